/* Reads the text form print.c writes back into a graph. The text may come from anywhere (a
 * hand-edited golden file, a fuzzer), so every token is checked where it is read and any fault
 * ends the parse with "line N: expected X, found Y"; nothing is allocated that the failing path
 * does not free.
 *
 * Conventions: a statement is one line; spaces, tabs and '\r' separate tokens; '#' outside a
 * string comments out the rest of its line; blank lines go anywhere. Values are numbered 0, 1, 2
 * in order, inputs, params, constants and externs before nodes, each defined before its use.
 * Each node's type is checked against its op's shape rule on its own line, so the verifier's
 * final pass over the whole graph only catches what a line cannot show. */
#include "graph.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* Largest dim a type may have: any 64 of them still add up without overflow (concat). */
/* As many inputs as the verifier takes. */
#define MAX_INPUTS 64

typedef struct parser {
    const char *p; /* the cursor; the text ends at its NUL */
    long line;
    char *err;
    size_t err_size;
    bool failed;
} parser;

/* ---- errors ------------------------------------------------------------------------------ */

static bool fail(parser *P, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static bool fail(parser *P, const char *fmt, ...)
{
    if (P->failed)
        return false; /* the first fault is the one to report */
    P->failed = true;
    char msg[512];
    int used = snprintf(msg, sizeof msg, "line %ld: ", P->line);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg + used, sizeof msg - (size_t)used, fmt, ap);
    va_end(ap);
    if (P->err && P->err_size)
        snprintf(P->err, P->err_size, "%s", msg);
    hb_error_set(HB_ERR_FORMAT, "graph text: %s", msg);
    return false;
}

static bool is_word_char(char c, const char *extra)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr(extra, c));
}

static size_t span(const char *q, const char *extra)
{
    size_t n = 0;
    while (is_word_char(q[n], extra))
        n++;
    return n;
}

/* The token at q for a message: a word, or one character; bytes shown as \xHH. */
static const char *describe(const char *q, char *buf, size_t size)
{
    if (*q == '\0')
        return "end of input";
    if (*q == '\n')
        return "end of line";
    size_t n = span(q, "_.%+-"), used = 0;
    n = n ? n : 1;
    bool cut = n > 24;
    n = cut ? 24 : n;
    used += (size_t)snprintf(buf, size, "'");
    for (size_t i = 0; i < n && used < size; i++) {
        unsigned char c = (unsigned char)q[i];
        used += (size_t)snprintf(buf + used, size - used, c < 0x20 || c >= 0x7f ? "\\x%02x" : "%c",
                                 c);
    }
    if (used < size)
        snprintf(buf + used, size - used, cut ? "...'" : "'");
    return buf;
}

static bool expect(parser *P, const char *what)
{
    char buf[128];
    return fail(P, "expected %s, found %s", what, describe(P->p, buf, sizeof buf));
}

/* ---- tokens ------------------------------------------------------------------------------ */

static void skip_blank(parser *P)
{
    for (;;) {
        if (*P->p == ' ' || *P->p == '\t' || *P->p == '\r') {
            P->p++;
        } else if (*P->p == '#') {
            while (*P->p && *P->p != '\n')
                P->p++;
        } else {
            return;
        }
    }
}

static void skip_empty_lines(parser *P)
{
    for (skip_blank(P); *P->p == '\n'; skip_blank(P))
        P->p++, P->line++;
}

static bool end_line(parser *P)
{
    skip_blank(P);
    if (*P->p == '\n') {
        P->p++, P->line++;
        return true;
    }
    return *P->p == '\0' || expect(P, "end of line");
}

static bool accept(parser *P, char c)
{
    skip_blank(P);
    if (*P->p != c)
        return false;
    P->p++;
    return true;
}

static bool need(parser *P, char c)
{
    char what[8] = {'\'', c, '\''};
    return accept(P, c) || expect(P, what);
}

/* Whether the next token is the word kw (and not the start of a longer word). */
static bool peek_word(parser *P, const char *kw)
{
    skip_blank(P);
    size_t n = span(P->p, "_");
    return n == strlen(kw) && memcmp(P->p, kw, n) == 0;
}

/* Consumes the word kw if it is the next token. */
static bool accept_word(parser *P, const char *kw)
{
    if (!peek_word(P, kw))
        return false;
    P->p += strlen(kw);
    return true;
}

static bool need_word(parser *P, const char *kw)
{
    if (accept_word(P, kw))
        return true;
    char what[32];
    snprintf(what, sizeof what, "'%s'", kw);
    return expect(P, what);
}

static bool expect_range(parser *P, int64_t lo, int64_t hi, const char *what)
{
    char range[160];
    snprintf(range, sizeof range, "%s in [%lld, %lld]", what, (long long)lo, (long long)hi);
    return expect(P, range);
}

/* An integer in [lo, hi]: an optional '-' and decimal digits, not run into a following word. */
static bool parse_int(parser *P, int64_t lo, int64_t hi, const char *what, int64_t *out)
{
    skip_blank(P);
    const char *q = P->p;
    bool neg = *q == '-';
    q += neg;
    if (!(*q >= '0' && *q <= '9') || (neg && lo >= 0))
        return expect_range(P, lo, hi, what);
    uint64_t limit = neg ? (uint64_t)(-(lo + 1)) + 1 : (uint64_t)hi, acc = 0;
    for (; *q >= '0' && *q <= '9'; q++) {
        unsigned d = (unsigned)(*q - '0');
        if (d > limit || acc > (limit - d) / 10)
            return expect_range(P, lo, hi, what);
        acc = acc * 10 + d;
    }
    if (is_word_char(*q, "_."))
        return expect_range(P, lo, hi, what);
    *out = neg ? (int64_t)(0 - acc) : (int64_t)acc;
    P->p = q;
    return true;
}

static bool parse_small_int(parser *P, const char *what, int *out)
{
    int64_t v;
    if (!parse_int(P, INT_MIN, INT_MAX, what, &v))
        return false;
    *out = (int)v;
    return true;
}

/* A float as print.c writes it ("%.9g", inf, -inf, nan); anything strtof takes whole. */
static bool parse_scalar(parser *P, float *out)
{
    skip_blank(P);
    size_t n = span(P->p, "_.+-");
    char buf[64];
    if (n == 0 || n >= sizeof buf)
        return expect(P, "a number");
    memcpy(buf, P->p, n);
    buf[n] = '\0';
    char *end;
    errno = 0;
    float x = strtof(buf, &end);
    if (end != buf + n)
        return expect(P, "a number");
    if (isinf(x) && errno == ERANGE)
        return expect(P, "a number within f32 range");
    *out = x;
    P->p += n;
    return true;
}

static int hex_digit(char c)
{
    return c >= '0' && c <= '9' ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* A double-quoted string with the escapes \" \\ \n \t \xHH; *out is hb_malloc'd. Checked
 * whole before anything is allocated. */
static bool parse_string(parser *P, char **out)
{
    skip_blank(P);
    if (*P->p != '"')
        return expect(P, "a quoted string");
    size_t n = 0;
    const char *q = P->p + 1;
    for (; *q != '"'; n++) {
        if (*q == '\0' || *q == '\n') {
            P->p = q;
            return expect(P, "'\"' to close the string");
        }
        if (*q != '\\') {
            q++;
        } else if (q[1] == '"' || q[1] == '\\' || q[1] == 'n' || q[1] == 't') {
            q += 2;
        } else if (q[1] == 'x' && hex_digit(q[2]) >= 0 && hex_digit(q[3]) >= 0) {
            if (hex_digit(q[2]) == 0 && hex_digit(q[3]) == 0) {
                P->p = q;
                return fail(P, "expected a byte other than \\x00 in a string, found '\\x00'");
            }
            q += 4;
        } else {
            P->p = q;
            return expect(P, "an escape \\\" \\\\ \\n \\t or \\xHH");
        }
    }
    char *s = hb_malloc(n + 1), *d = s;
    if (!s)
        return fail(P, "out of memory");
    for (q = P->p + 1; *q != '"';) {
        if (*q != '\\')
            *d++ = *q++;
        else if (q[1] == 'x')
            *d++ = (char)(hex_digit(q[2]) * 16 + hex_digit(q[3])), q += 4;
        else
            *d++ = q[1] == 'n' ? '\n' : q[1] == 't' ? '\t' : q[1], q += 2;
    }
    *d = '\0';
    P->p = q + 1;
    *out = s;
    return true;
}

/* A name that is either a bare word of [A-Za-z0-9] and extra, or a quoted string. */
static bool parse_name(parser *P, const char *extra, const char *what, char **out)
{
    skip_blank(P);
    if (*P->p == '"')
        return parse_string(P, out);
    size_t n = span(P->p, extra);
    if (n == 0)
        return expect(P, what);
    if (!(*out = hb_malloc(n + 1)))
        return fail(P, "out of memory");
    memcpy(*out, P->p, n);
    (*out)[n] = '\0';
    P->p += n;
    return true;
}

/* %N, with N at most INT_MAX. */
static bool parse_ref(parser *P, int *id)
{
    skip_blank(P);
    const char *start = P->p;
    if (*P->p != '%' || !(P->p[1] >= '0' && P->p[1] <= '9'))
        return expect(P, "a value '%N'");
    P->p++;
    int64_t v;
    if (!parse_int(P, 0, INT_MAX, "a value number", &v)) {
        P->p = start;
        return false;
    }
    *id = (int)v;
    return true;
}

static bool parse_dims(parser *P, int64_t lo, hb_shape *s)
{
    s->ndim = 0;
    if (!need(P, '['))
        return false;
    if (accept(P, ']'))
        return true;
    for (;;) {
        if (s->ndim == HB_MAX_DIMS)
            return fail(P, "expected at most %d dims, found more", HB_MAX_DIMS);
        if (!parse_int(P, lo, HB_DIM_MAX, "a dim", &s->dim[s->ndim++]))
            return false;
        if (accept(P, ']'))
            return true;
        if (!accept(P, ','))
            return expect(P, "',' or ']'");
    }
}

/* A dtype by its text name ("f32", "i64", "bool"). */
static bool parse_dtype(parser *P, hb_dtype *d)
{
    for (int i = 0; i < HB_DTYPE_COUNT; i++)
        if (accept_word(P, hb_dtypes[i].text))
            return *d = (hb_dtype)i, true;
    return expect(P, "a dtype (f32, i64, bool, ...)");
}

static bool parse_type(parser *P, hb_dtype *d, hb_shape *s)
{
    if (!need(P, ':'))
        return false;
    if (!parse_dtype(P, d))
        return false;
    if (!parse_dims(P, 0, s))
        return false;
    int64_t numel = 1;
    for (int i = 0; i < s->ndim; i++)
        if (!hb_mul_ok(numel, s->dim[i], &numel)) {
            char buf[200];
            return fail(P, "expected a type of at most 2^63-1 elements, found %s%s",
                        hb_dtypes[*d].text, hb_shape_fmt(s, buf, sizeof buf));
        }
    return true;
}

/* ---- attributes ------------------------------------------------------------------------- */

static bool check_arity(parser *P, hb_op op, int n);

static bool need_key(parser *P, const char *key)
{
    return need_word(P, key) && need(P, '=');
}

/* "rN", a register written before the instruction reading it: r0 to r(defined - 1). */
static bool parse_register(parser *P, int defined, uint8_t *out)
{
    skip_blank(P);
    const char *q = P->p;
    if (*q != 'r' || !(q[1] >= '0' && q[1] <= '9'))
        return expect(P, "a register 'rN'");
    int v = 0;
    for (q++; *q >= '0' && *q <= '9'; q++) {
        v = v * 10 + (*q - '0');
        v = v > HB_PROG_MAX_REGS ? HB_PROG_MAX_REGS : v; /* any such number is out of range */
    }
    if (is_word_char(*q, "_."))
        return expect(P, "a register 'rN'");
    if (v >= defined) {
        char buf[128];
        return fail(P, "expected a register written before this instruction (r0 to r%d), "
                    "found %s", defined - 1, describe(P->p, buf, sizeof buf));
    }
    *out = (uint8_t)v;
    P->p = q;
    return true;
}

/* "op(rA)", "op(rA, rB)" or "op_scalar(rA, x)": an op of the table that may be an instruction
 * (HB_PROG: an HB_EW_OP row), its registers by its arity, and a *_scalar op's scalar. */
static bool parse_instruction(parser *P, int defined, hb_prog_ins *ins)
{
    skip_blank(P);
    size_t n = span(P->p, "_");
    const hb_op_info *info = NULL;
    int op = 0;
    for (; n && op < HB_OP_COUNT; op++)
        if (strlen(hb_op_table[op].name) == n && memcmp(hb_op_table[op].name, P->p, n) == 0) {
            info = &hb_op_table[op];
            break;
        }
    if (!info || !(info->flags & HB_PROG))
        return expect(P, "an elementwise op in the program");
    P->p += n;
    *ins = (hb_prog_ins){.op = (hb_op)op};
    if (!need(P, '(') || !parse_register(P, defined, &ins->a))
        return false;
    if (info->min_inputs == 2 && !(need(P, ',') && parse_register(P, defined, &ins->b)))
        return false;
    if (info->attrs == HB_ATTRS_SCALAR && !(need(P, ',') && parse_scalar(P, &ins->scalar)))
        return false;
    return need(P, ')');
}

/* "[ins, ...]", the program after "prog=" of a node with n inputs: the program reads them all
 * as r0..., except a gemm's, whose r0 is the product and r1... its inputs after the first two.
 * On success
 * a->prog points at *prog (hb_graph_add_node copies it). */
static bool parse_program(parser *P, hb_op op, int n, hb_program *prog, hb_attrs *a)
{
    int ninputs = op == HB_OP_GEMM || op == HB_OP_FUSED_CONV ? n - 1 : n;
    if (ninputs < 1)
        return check_arity(P, op, n) && fail(P, "expected inputs for %s's program, found none",
                                             hb_op_table[op].name);
    if (!need(P, '['))
        return false;
    *prog = (hb_program){.ninputs = ninputs};
    for (;;) {
        if (prog->nins == HB_PROG_MAX_INS)
            return fail(P, "expected at most %d instructions in a program, found more",
                        HB_PROG_MAX_INS);
        if (ninputs + prog->nins >= HB_PROG_MAX_REGS)
            return fail(P, "expected at most %d registers in a program (%d inputs and the "
                        "instructions), found more", HB_PROG_MAX_REGS, ninputs);
        if (!parse_instruction(P, ninputs + prog->nins, &prog->ins[prog->nins]))
            return false;
        prog->nins++;
        if (accept(P, ']'))
            break;
        if (!accept(P, ','))
            return expect(P, "',' or ']'");
    }
    char why[256];
    if (!hb_program_valid(prog, why, sizeof why))
        return fail(P, "%s", why);
    a->prog = prog;
    return true;
}

/* Whose lines: a graph's; a loop's body (which ends with 'continue %N'); a scan's body. */
typedef enum lines_of { GRAPH, BODY_LOOP, BODY_SCAN } lines_of;
static bool parse_lines(parser *P, hb_graph *g, lines_of whose);

/* "expected 'a', 'b' or 'c'": the words that could have come where the text has another. */
static bool expect_one_of(parser *P, const char *const *words, int n)
{
    char list[256];
    size_t used = 0;
    list[0] = '\0';
    for (int i = 0; i < n && used < sizeof list; i++) {
        const char *sep = i == 0 ? "" : i == n - 1 ? " or " : ", ";
        int w = snprintf(list + used, sizeof list - used, "%s'%s'", sep, words[i]);
        used += w > 0 ? (size_t)w : 0;
    }
    skip_blank(P);
    return expect(P, list);
}

/* The value of field fd after its "key=" (an extent's, after "axis="). A program reads the
 * node's n inputs; an island's reason goes to *reason, a loop's body to *body. */
static bool parse_value(parser *P, const hb_attr_field *fd, hb_op op, int n, hb_attrs *a,
                        char **reason, hb_program *prog, hb_graph **body)
{
    switch (fd->type) {
    case HB_FIELD_SCALAR:
        return parse_scalar(P, HB_FIELD_AT(float, a, fd->at));
    case HB_FIELD_INT:
    case HB_FIELD_EXTENT:
        return parse_small_int(P, fd->what, HB_FIELD_AT(int, a, fd->at));
    case HB_FIELD_COUNT:
        return parse_int(P, 0, INT64_MAX, fd->what, HB_FIELD_AT(int64_t, a, fd->at));
    case HB_FIELD_DIMS:
        return parse_dims(P, fd->lo, HB_FIELD_AT(hb_shape, a, fd->at));
    case HB_FIELD_PAIR:
        return need(P, '[') && parse_small_int(P, fd->what, HB_FIELD_AT(int, a, fd->at)) &&
               need(P, ',') && parse_small_int(P, fd->what, HB_FIELD_AT(int, a, fd->at2)) &&
               need(P, ']');
    case HB_FIELD_EXPECT:
        if (accept_word(P, "true"))
            *HB_FIELD_AT(float, a, fd->at) = 1.0f;
        else if (accept_word(P, "false"))
            *HB_FIELD_AT(float, a, fd->at) = 0.0f;
        else
            return expect(P, "true or false");
        return true;
    case HB_FIELD_REDUCTION: {
        static const hb_op reductions[] = {HB_OP_SUM, HB_OP_MEAN, HB_OP_MAX};
        const char *names[3];
        for (int i = 0; i < 3; i++) {
            names[i] = hb_op_table[reductions[i]].name;
            if (accept_word(P, names[i]))
                return *HB_FIELD_AT(hb_op, a, fd->at) = reductions[i], true;
        }
        return expect_one_of(P, names, 3);
    }
    case HB_FIELD_PROGRAM:
        return parse_program(P, op, n, prog, a);
    case HB_FIELD_BODY: /* "{", the body's lines, and "}" on a line of its own */
        if (!need(P, '{') || !end_line(P))
            return false;
        if (!(*body = hb_graph_new("body")))
            return fail(P, "out of memory");
        if (!parse_lines(P, *body, op == HB_OP_LOOP ? BODY_LOOP : BODY_SCAN))
            return false;
        a->body = *body;
        return need(P, '}');
    case HB_FIELD_DTYPE:
        return parse_dtype(P, HB_FIELD_AT(hb_dtype, a, fd->at));
    case HB_FIELD_REASON:
        return parse_string(P, reason);
    case HB_FIELD_FLAG:
    case HB_FIELD_KEEPDIM:
    case HB_FIELD_END:
        break; /* words without values */
    }
    return true;
}

/* Sets flag field fd in a: its member is a bool or an int. */
static void set_flag(const hb_attr_field *fd, hb_attrs *a)
{
    if (fd->size == sizeof(bool))
        *HB_FIELD_AT(bool, a, fd->at) = true;
    else
        *HB_FIELD_AT(int, a, fd->at) = 1;
}

/* Reads "{field, ...}" by the row of attrs.def for op's kind, as print.c writes it; ops without
 * attributes must not have braces. A flag may be left out; where the text has a word that is
 * no field's, the message lists the words that could have come there. */
static bool parse_attrs(parser *P, hb_op op, int n, hb_attrs *a, char **reason,
                        hb_program *prog, hb_graph **body)
{
    const hb_attr_field *fd = hb_attr_kinds[hb_op_table[op].attrs].fields;
    skip_blank(P);
    if (fd->type == HB_FIELD_END) {
        if (*P->p == '{')
            return fail(P, "expected ':' (%s takes no attributes), found '{'",
                        hb_op_table[op].name);
        return true;
    }
    if (!need(P, '{'))
        return false;
    const char *could[HB_ATTR_MAX_FIELDS + 1]; /* flags passed over since the last field read */
    int ncould = 0;
    bool any = false; /* a field was read: the next one needs a comma */
    for (; fd->type != HB_FIELD_END; fd++) {
        bool optional = fd->type == HB_FIELD_FLAG || fd->type == HB_FIELD_KEEPDIM;
        if (fd->type == HB_FIELD_KEEPDIM && a->all)
            continue; /* a reduction over all has no keepdim */
        const char *at = P->p;
        bool comma = any && accept(P, ',');
        if (optional) {
            if (any && !comma)
                continue; /* no comma: no flag either */
            if (accept_word(P, fd->key)) {
                set_flag(fd, a);
                any = true, ncould = 0;
            } else {
                P->p = at, could[ncould++] = fd->key;
            }
            continue;
        }
        if (any && !comma)
            return expect(P, "','");
        if (fd->type == HB_FIELD_EXTENT && accept_word(P, "all")) {
            a->all = true;
        } else {
            could[ncould++] = fd->type == HB_FIELD_EXTENT ? "all" : fd->key;
            if (fd->type == HB_FIELD_EXTENT)
                could[ncould++] = fd->key;
            if (!peek_word(P, fd->key))
                return expect_one_of(P, could, ncould);
            if (!need_key(P, fd->key) || !parse_value(P, fd, op, n, a, reason, prog, body))
                return false;
        }
        any = true, ncould = 0;
    }
    const char *at = P->p;
    if (ncould && accept(P, ',')) /* a comma after the last field read: a flag should follow */
        return expect_one_of(P, could, ncould);
    P->p = at;
    return need(P, '}');
}

/* ---- lines ------------------------------------------------------------------------------- */

static bool check_arity(parser *P, hb_op op, int n)
{
    const hb_op_info *info = &hb_op_table[op];
    if (n >= info->min_inputs && (info->max_inputs < 0 || n <= info->max_inputs))
        return true;
    if (info->max_inputs < 0)
        return fail(P, "expected at least %d input%s to %s, found %d", info->min_inputs,
                    info->min_inputs == 1 ? "" : "s", info->name, n);
    if (info->min_inputs == info->max_inputs)
        return fail(P, "expected %d input%s to %s, found %d", info->min_inputs,
                    info->min_inputs == 1 ? "" : "s", info->name, n);
    return fail(P, "expected %d to %d inputs to %s, found %d", info->min_inputs,
                info->max_inputs, info->name, n);
}

/* The node's recorded type must be what its op's shape and dtype rules give for its inputs. */
static bool check_shape(parser *P, const hb_graph *g, hb_op op, const hb_attrs *attrs, int n,
                        const int *inputs, hb_dtype dtype, const hb_shape *out)
{
    hb_shape in[MAX_INPUTS], want;
    hb_dtype din[MAX_INPUTS], dwant;
    for (int i = 0; i < n; i++)
        in[i] = g->values[inputs[i]].shape, din[i] = g->values[inputs[i]].dtype;
    hb_attrs at = *attrs;
    char why[256], a[200], b[200];
    if (hb_op_infer(op, &at, n, in, &want, why, sizeof why) != HB_OK ||
        hb_op_dtype(op, &at, n, din, &dwant, why, sizeof why) != HB_OK)
        return fail(P, "%s", why);
    if (!hb_shape_equal(&want, out) || dwant != dtype)
        return fail(P, "expected type %s%s for %s, found %s%s", hb_dtypes[dwant].text,
                    hb_shape_fmt(&want, a, sizeof a), hb_op_table[op].name, hb_dtypes[dtype].text,
                    hb_shape_fmt(out, b, sizeof b));
    return true;
}

static bool lookup_op(parser *P, hb_op *op)
{
    skip_blank(P);
    size_t n = span(P->p, "_");
    for (int i = 0; i < HB_OP_COUNT; i++)
        if (n && strlen(hb_op_table[i].name) == n && memcmp(hb_op_table[i].name, P->p, n) == 0) {
            *op = (hb_op)i;
            P->p += n;
            return true;
        }
    return expect(P, "an op name, 'input', 'param', 'const' or 'extern'");
}

/* "op(%a, %b) {attrs} : f32[...]  @path" after "%N =". */
static bool parse_node(parser *P, hb_graph *g)
{
    hb_op op = HB_OP_COUNT;
    hb_attrs attrs = {0};
    hb_program prog;
    int inputs[MAX_INPUTS], n = 0;
    char *reason = NULL, *path = NULL;
    hb_shape out;
    hb_dtype dtype = HB_F32;
    long line = P->line;
    bool ok = lookup_op(P, &op) && need(P, '(');
    if (ok && !accept(P, ')')) {
        for (;;) {
            int id;
            if (n == MAX_INPUTS) {
                ok = fail(P, "expected at most %d inputs to a node, found more", MAX_INPUTS);
                break;
            }
            if (!(ok = parse_ref(P, &id)))
                break;
            if (id >= g->nvalues) {
                ok = fail(P, "expected a value defined on an earlier line, found %%%d", id);
                break;
            }
            inputs[n++] = id;
            if (accept(P, ')'))
                break;
            if (!accept(P, ',')) {
                ok = expect(P, "',' or ')'");
                break;
            }
        }
    }
    hb_graph *body = NULL;
    ok = ok && parse_attrs(P, op, n, &attrs, &reason, &prog, &body) &&
         parse_type(P, &dtype, &out);
    if (ok && accept(P, '@'))
        ok = parse_name(P, "_.-/", "a block path", &path);
    ok = ok && end_line(P);
    if (ok && op == HB_OP_ISLAND)
        attrs.shape = out; /* what the block returned when traced; the callee is not text */
    if (ok) {
        long next = P->line;
        P->line = line; /* the checks below report the node's own line */
        ok = check_arity(P, op, n) && check_shape(P, g, op, &attrs, n, inputs, dtype, &out);
        P->line = next;
    }
    if (ok && hb_graph_add_node(g, op, &attrs, n, inputs, &out, path) < 0)
        ok = fail(P, "out of memory");
    if (ok && op == HB_OP_ISLAND) {
        g->nodes[g->nnodes - 1].reason = reason;
        reason = NULL;
    }
    if (ok && (op == HB_OP_LOOP || op == HB_OP_SCAN)) {
        hb_node_set_body(&g->nodes[g->nnodes - 1], body);
        body = NULL;
    }
    hb_graph_free(body);
    hb_free(reason);
    hb_free(path);
    return ok;
}

/* "input : f32[...]" or "param|const|extern "name" : f32[...]" after "%N =". */
static bool parse_leaf(parser *P, hb_graph *g, hb_value_kind kind)
{
    char *name = NULL;
    hb_shape s;
    hb_dtype d = HB_F32;
    bool ok = (kind == HB_VAL_INPUT || parse_string(P, &name)) && parse_type(P, &d, &s) &&
              end_line(P);
    int v = ok ? hb_graph_add_value(g, kind, &s, name) : -1;
    if (ok && v < 0)
        ok = fail(P, "out of memory");
    if (ok)
        g->values[v].dtype = d;
    if (ok && kind == HB_VAL_INPUT && g->input < 0)
        g->input = v;
    hb_free(name);
    return ok;
}

static bool parse_value_line(parser *P, hb_graph *g)
{
    int id = -1;
    if (!parse_ref(P, &id))
        return false;
    if (id != g->nvalues)
        return fail(P, "expected %%%d (values are numbered in order from 0), found %%%d",
                    g->nvalues, id);
    if (!need(P, '='))
        return false;
    static const char *const kinds[] = {"input", "param", "const", "extern"};
    for (int k = 0; k < (int)HB_ARRAY_LEN(kinds); k++) {
        if (!accept_word(P, kinds[k]))
            continue;
        if (g->nnodes)
            return fail(P, "expected a node (inputs, params, constants and externs come "
                        "before nodes), found '%s'", kinds[k]);
        return parse_leaf(P, g, (hb_value_kind)k);
    }
    return parse_node(P, g);
}

/* The lines of a graph (or of a body, a loop's with 'continue %N') up to the closing '}',
 * which is left for the caller. */
static bool parse_lines(parser *P, hb_graph *g, lines_of whose)
{
    for (skip_empty_lines(P); !P->failed && *P->p != '}'; skip_empty_lines(P)) {
        if (*P->p == '%') {
            parse_value_line(P, g);
        } else if (whose == BODY_LOOP && accept_word(P, "continue")) {
            int id = -1;
            if (parse_ref(P, &id) && id >= g->nvalues)
                fail(P, "expected a value defined on an earlier line, found %%%d", id);
            if (!P->failed && end_line(P))
                g->cond = id;
        } else if (accept_word(P, "return")) {
            int id = -1;
            if (parse_ref(P, &id) && id >= g->nvalues)
                fail(P, "expected a value defined on an earlier line, found %%%d", id);
            if (!P->failed && end_line(P))
                g->output = id;
            skip_empty_lines(P);
            if (!P->failed && *P->p != '}')
                expect(P, "'}' after the return line");
        } else if (*P->p == '\0') {
            expect(P, "'}' to close the graph");
        } else {
            expect(P, whose == BODY_LOOP ? "a value '%N = ...', 'continue', 'return' or '}'"
                           : "a value '%N = ...', 'return' or '}'");
        }
    }
    if (!P->failed && g->output < 0)
        expect(P, "a line 'return %N' before '}'");
    if (!P->failed && whose == BODY_LOOP && g->cond < 0)
        expect(P, "a line 'continue %N' in a loop's body");
    return !P->failed;
}

static hb_graph *parse_graph(parser *P)
{
    char *name = NULL;
    skip_empty_lines(P);
    if (!need_word(P, "graph") || !parse_name(P, "_.-", "a graph name", &name))
        return NULL;
    hb_graph *g = need(P, '{') && end_line(P) ? hb_graph_new(name) : NULL;
    if (!g && !P->failed)
        fail(P, "out of memory");
    hb_free(name);
    if (!g)
        return NULL;
    if (parse_lines(P, g, GRAPH) && need(P, '}') && end_line(P)) {
        skip_empty_lines(P);
        if (*P->p != '\0')
            expect(P, "end of input after the graph");
    }
    char why[512];
    if (!P->failed && hb_graph_verify(g, why, sizeof why) != HB_OK)
        fail(P, "%s", why);
    if (P->failed) {
        hb_graph_free(g);
        return NULL;
    }
    return g;
}

hb_graph *hb_graph_parse(const char *text, char *err, size_t err_size)
{
    parser P = {.p = text ? text : "", .line = 1, .err = err, .err_size = err_size};
    if (err && err_size)
        err[0] = '\0';
    return parse_graph(&P);
}
