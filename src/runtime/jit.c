/* The LLVM JIT backend (see jit.h). For each fused instruction it emits one function with the
 * kernel signature: the output viewed as rows × len (len the last axis; one row when every
 * input is full-size or a single value), a loop over rows, and inside it a loop over vectors
 * of `lanes` floats then one over the remaining floats, each computing the whole program on
 * registers. Inputs are read as the interpreter reads them: the output's own shape, one value
 * spread, a column ([rows, 1]) or a row ([len]); any other broadcast keeps the interpreter.
 * Reductions add in double (sums, means) or keep the maximum with NaN winning, one vector of
 * partial results per output, combined in lane order at the end of the output's values: the
 * same sums as the interpreter's up to the order of double additions. */
#include "jit.h"
#include "hb_config.h"
#include "program.h"
#include "pool.h"
#include "sgemm.h"
#include "weights.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

bool hb_jit_enabled(void)
{
#if HB_HAVE_JIT
    const char *e = getenv("HB_JIT");
    return !(e && strcmp(e, "0") == 0);
#else
    return false;
#endif
}

#if !HB_HAVE_JIT

hb_status hb_jit_plan(hb_plan *p, char *err, size_t err_size)
{
    (void)p;
    snprintf(err, err_size, "this build has no JIT (LLVM 14 was not found; -Djit=enabled)");
    return HB_ERR_UNSUPPORTED;
}

void hb_jit_release(hb_plan *p) { (void)p; }

#else

#include <llvm-c/Core.h>
#include <llvm-c/Error.h>
#include <llvm-c/LLJIT.h>
#include <llvm-c/Orc.h>
#include <llvm-c/Target.h>
#include <llvm-c/TargetMachine.h>
#include <llvm-c/Transforms/PassBuilder.h>
#include <math.h>
#include <pthread.h>

/* ---- the process's JIT -------------------------------------------------------------------- */

/* One LLJIT for the process, made on first use; a plan's code goes in under a resource tracker
 * of its own and leaves with the plan. */
static LLVMOrcLLJITRef jit;
static LLVMTargetMachineRef opt_tm; /* the host's CPU and features, for the optimizer */
static int lanes;                   /* floats per vector: 16 with AVX-512, else 8 */
/* Elementwise loops take `unroll` vectors a step, as one vector type that many times as wide,
 * which LLVM splits into independent registers: the programs are long chains of dependent
 * operations (an exp is about 20), and one vector a step left the CPU waiting on each chain's
 * latency (the seed's chain on 4M floats, AVX-512, one thread: 7.3 ms at one vector a step,
 * 4.4 at four, 3.4 at eight, 4.1 at sixteen, where registers spill). AVX-512 has 32 vector
 * registers, AVX2 16: eight vectors a step there, four here. */
static int unroll;
enum { MAX_UNROLL = 8 }; /* splat's items[] holds MAX_UNROLL · 16 */
/* Fused groups of one row of SPLIT_MIN floats or more run in parts of PART_MIN or more (at
 * most MAX_PARTS) on the process's pool: a part of 32K floats is tens of microseconds of work
 * against about one of waking the pool. */
enum { SPLIT_MIN = 1 << 16, PART_MIN = 1 << 15, MAX_PARTS = 256 };
static char init_error[256];
static pthread_once_t init_once = PTHREAD_ONCE_INIT;
/* Compiles one plan at a time: the optimizer shares opt_tm, which is not safe to use from two
 * threads at once (plans traced by several threads at once crashed in it). */
static pthread_mutex_t compiling = PTHREAD_MUTEX_INITIALIZER;

static void take_error(LLVMErrorRef e, char *err, size_t err_size)
{
    char *msg = LLVMGetErrorMessage(e);
    snprintf(err, err_size, "%s", msg);
    LLVMDisposeErrorMessage(msg);
}

/* The host's feature string with those above hb_isa_active() turned off ("+avx512f" becomes
 * "-avx512f"), so that HB_ISA=avx2 or generic runs the JIT's code on that path too. */
static char *capped_features(const char *host)
{
    size_t len = strlen(host);
    char *f = hb_malloc(len + 1);
    if (!f)
        return NULL;
    memcpy(f, host, len + 1);
    hb_isa isa = hb_isa_active();
    for (char *tok = f; isa != HB_ISA_AVX512 && *tok;) { /* "+avx2,+fma,...": each token */
        size_t tlen = strcspn(tok, ",");
        bool off = isa == HB_ISA_AVX2 ? strncmp(tok, "+avx512", 7) == 0
                                      : strncmp(tok, "+avx", 4) == 0 ||
                                            strncmp(tok, "+fma", 4) == 0 ||
                                            strncmp(tok, "+f16c", 5) == 0;
        if (off)
            *tok = '-';
        tok += tlen + (tok[tlen] != 0);
    }
    return f;
}

static LLVMTargetMachineRef host_machine(char *err, size_t err_size)
{
    char *triple = LLVMGetDefaultTargetTriple(), *msg = NULL;
    char *cpu = LLVMGetHostCPUName(), *host = LLVMGetHostCPUFeatures();
    char *features = capped_features(host);
    LLVMTargetRef target;
    LLVMTargetMachineRef tm = NULL;
    if (!features) {
        snprintf(err, err_size, "out of memory for the CPU's features");
    } else if (LLVMGetTargetFromTriple(triple, &target, &msg)) {
        snprintf(err, err_size, "no LLVM target for %s: %s", triple, msg ? msg : "");
    } else {
        tm = LLVMCreateTargetMachine(target, triple, cpu, features, LLVMCodeGenLevelAggressive,
                                     LLVMRelocDefault, LLVMCodeModelJITDefault);
        lanes = strstr(features, "+avx512f") ? 16 : 8;
        unroll = lanes == 16 ? 8 : 4;
    }
    LLVMDisposeMessage(msg), LLVMDisposeMessage(triple), LLVMDisposeMessage(cpu),
        LLVMDisposeMessage(host);
    hb_free(features);
    return tm;
}

static void init(void)
{
    LLVMInitializeNativeTarget();
    LLVMInitializeNativeAsmPrinter();
    char err[200] = "";
    opt_tm = host_machine(err, sizeof err);
    LLVMTargetMachineRef jit_tm = opt_tm ? host_machine(err, sizeof err) : NULL;
    if (!jit_tm) {
        snprintf(init_error, sizeof init_error, "%s", err);
        return;
    }
    LLVMOrcLLJITBuilderRef builder = LLVMOrcCreateLLJITBuilder();
    LLVMOrcLLJITBuilderSetJITTargetMachineBuilder(
        builder, LLVMOrcJITTargetMachineBuilderCreateFromTargetMachine(jit_tm));
    LLVMErrorRef e = LLVMOrcCreateLLJIT(&jit, builder);
    LLVMOrcDefinitionGeneratorRef gen = NULL;
    if (!e) /* the process's symbols (libm's logf) for the code to call */
        e = LLVMOrcCreateDynamicLibrarySearchGeneratorForProcess(
            &gen, LLVMOrcLLJITGetGlobalPrefix(jit), NULL, NULL);
    if (e) {
        take_error(e, init_error, sizeof init_error);
        jit = NULL;
        return;
    }
    LLVMOrcJITDylibAddGenerator(LLVMOrcLLJITGetMainJITDylib(jit), gen);
}

/* ---- code generation ---------------------------------------------------------------------- */

typedef struct cg {
    LLVMContextRef ctx;
    LLVMModuleRef mod;
    LLVMBuilderRef b;
    LLVMTypeRef f32, f64, i32, i64, i1, i8p, f32p, voidt;
    LLVMValueRef fn;
    LLVMBasicBlockRef entry;
} cg;

/* How an input is read, against an output viewed as rows × len. */
typedef enum { READ_FULL, READ_ONE, READ_COLUMN, READ_ROW } read_kind;

typedef struct group {
    const hb_program *prog;
    int n; /* inputs */
    read_kind read[HB_PROG_MAX_REGS];
    int64_t rows, len;
    bool reduce; /* fused_reduce: over all, or each row */
    bool all;
    hb_op op; /* the reduction */
    /* gemm: out[m, n] = a[m, k] · b[k, n], then the epilogue program on each output vector
     * (r0 the product; the inputs after the first two, rows of n or single values) */
    bool gemm;
    int64_t m, k;
    bool trans_b; /* b is [n, k] (a linear's weight): each output a dot product over k */
    bool kept_t;  /* b [n, k] is live and read as its kept transpose [k, n] (weights.c) */
    bool linear;  /* a linear: no program; a bias (input 2) added if there is one */
    bool split;   /* one row of SPLIT_MIN or more, map or reduction: run in parts on the pool */
} group;

static LLVMTypeRef vec(cg *c, LLVMTypeRef t, int w)
{
    (void)c;
    return w == 1 ? t : LLVMVectorType(t, (unsigned)w);
}

static LLVMValueRef splat(cg *c, LLVMTypeRef elem, int w, LLVMValueRef scalar)
{
    (void)c, (void)elem;
    if (w == 1)
        return scalar;
    LLVMValueRef items[MAX_UNROLL * 16];
    for (int i = 0; i < w; i++)
        items[i] = scalar;
    return LLVMConstVector(items, (unsigned)w);
}

/* A float constant as the C source writes it: rounded to float first. */
static LLVMValueRef K(cg *c, int w, double x)
{
    return splat(c, c->f32, w, LLVMConstReal(c->f32, (float)x));
}
static LLVMValueRef KI(cg *c, int w, long long x)
{
    return splat(c, c->i32, w, LLVMConstInt(c->i32, (unsigned long long)x, 1));
}

static LLVMValueRef sel(cg *c, LLVMValueRef cond, LLVMValueRef a, LLVMValueRef b)
{
    return LLVMBuildSelect(c->b, cond, a, b, "");
}
static LLVMValueRef fcmp(cg *c, LLVMRealPredicate p, LLVMValueRef a, LLVMValueRef b)
{
    return LLVMBuildFCmp(c->b, p, a, b, "");
}
static LLVMValueRef add(cg *c, LLVMValueRef a, LLVMValueRef b)
{
    return LLVMBuildFAdd(c->b, a, b, "");
}
static LLVMValueRef sub(cg *c, LLVMValueRef a, LLVMValueRef b)
{
    return LLVMBuildFSub(c->b, a, b, "");
}
static LLVMValueRef mul(cg *c, LLVMValueRef a, LLVMValueRef b)
{
    return LLVMBuildFMul(c->b, a, b, "");
}
static LLVMValueRef fdiv(cg *c, LLVMValueRef a, LLVMValueRef b)
{
    return LLVMBuildFDiv(c->b, a, b, "");
}

/* A call of intrinsic name (llvm.fabs, llvm.sqrt, llvm.log) on x of type t. */
static LLVMValueRef intrinsic(cg *c, const char *name, LLVMTypeRef t, LLVMValueRef x)
{
    unsigned id = LLVMLookupIntrinsicID(name, strlen(name));
    LLVMValueRef f = LLVMGetIntrinsicDeclaration(c->mod, id, &t, 1);
    LLVMTypeRef ft = LLVMIntrinsicGetType(c->ctx, id, &t, 1);
    return LLVMBuildCall2(c->b, ft, f, &x, 1, "");
}

static LLVMValueRef intrinsic2(cg *c, const char *name, LLVMTypeRef t, LLVMValueRef x,
                               LLVMValueRef y)
{
    unsigned id = LLVMLookupIntrinsicID(name, strlen(name));
    LLVMValueRef f = LLVMGetIntrinsicDeclaration(c->mod, id, &t, 1);
    LLVMValueRef args[2] = {x, y};
    return LLVMBuildCall2(c->b, LLVMIntrinsicGetType(c->ctx, id, &t, 1), f, args, 2, "");
}

/* a·b + c, fused into one multiply-add where the CPU has it — as the C compiler contracts the
 * same expressions in fastmath.h (-ffp-contract=fast), so both paths round alike. */
static LLVMValueRef madd(cg *c, int w, LLVMValueRef a, LLVMValueRef b, LLVMValueRef addend)
{
    LLVMTypeRef t = vec(c, c->f32, w);
    unsigned id = LLVMLookupIntrinsicID("llvm.fmuladd", 12);
    LLVMValueRef f = LLVMGetIntrinsicDeclaration(c->mod, id, &t, 1);
    LLVMValueRef args[3] = {a, b, addend};
    return LLVMBuildCall2(c->b, LLVMIntrinsicGetType(c->ctx, id, &t, 1), f, args, 3, "");
}

/* hb_fast_exp (fastmath.h), operation for operation. */
static LLVMValueRef emit_exp(cg *c, int w, LLVMValueRef x)
{
    LLVMTypeRef ti = vec(c, c->i32, w), tf = vec(c, c->f32, w);
    LLVMValueRef hi = K(c, w, 88.72283935546875), lo = K(c, w, -103.97208404541015625);
    LLVMValueRef xc = sel(c, fcmp(c, LLVMRealOGT, x, hi), hi, x);
    xc = sel(c, fcmp(c, LLVMRealOLT, xc, lo), lo, xc);
    LLVMValueRef fn = madd(c, w, xc, K(c, w, 1.44269504088896341), K(c, w, 12582912.0));
    fn = sub(c, fn, K(c, w, 12582912.0));
    LLVMValueRef r = madd(c, w, fn, K(c, w, -0.693359375), xc);
    r = madd(c, w, fn, K(c, w, 2.12194440e-4), r);
    static const double poly[] = {1.3981999507E-3, 8.3334519073E-3, 4.1665795894E-2,
                                  1.6666665459E-1, 5.0000001201E-1};
    LLVMValueRef p = K(c, w, 1.9875691500E-4);
    for (int i = 0; i < 5; i++)
        p = madd(c, w, p, r, K(c, w, poly[i]));
    p = add(c, madd(c, w, mul(c, p, r), r, r), K(c, w, 1.0));
    LLVMValueRef n =
        LLVMBuildFPToSI(c->b, sel(c, fcmp(c, LLVMRealORD, fn, fn), fn, K(c, w, 0.0)), ti, "");
    LLVMValueRef below = LLVMBuildICmp(c->b, LLVMIntSLT, n, KI(c, w, -126), "");
    LLVMValueRef above = LLVMBuildICmp(c->b, LLVMIntSGT, n, KI(c, w, 127), "");
    LLVMValueRef nn = sel(c, below, LLVMBuildAdd(c->b, n, KI(c, w, 126), ""),
                          sel(c, above, LLVMBuildSub(c->b, n, KI(c, w, 1), ""), n));
    LLVMValueRef extra =
        sel(c, below, K(c, w, 1.17549435e-38), sel(c, above, K(c, w, 2.0), K(c, w, 1.0)));
    LLVMValueRef pow2 = LLVMBuildBitCast(
        c->b, LLVMBuildShl(c->b, LLVMBuildAdd(c->b, nn, KI(c, w, 127), ""), KI(c, w, 23), ""), tf,
        "");
    LLVMValueRef res = mul(c, mul(c, p, pow2), extra);
    res = sel(c, fcmp(c, LLVMRealOGT, x, hi), K(c, w, INFINITY), res);
    return sel(c, fcmp(c, LLVMRealOLT, x, lo), K(c, w, 0.0), res);
}

/* hb_fast_tanh. */
static LLVMValueRef emit_tanh(cg *c, int w, LLVMValueRef x)
{
    LLVMTypeRef tf = vec(c, c->f32, w);
    LLVMValueRef ax = intrinsic(c, "llvm.fabs", tf, x);
    LLVMValueRef z = sel(c, fcmp(c, LLVMRealOGT, ax, K(c, w, 9.0)), K(c, w, 9.0), ax);
    LLVMValueRef e = emit_exp(c, w, mul(c, K(c, w, 2.0), z));
    LLVMValueRef big = sub(c, K(c, w, 1.0), fdiv(c, K(c, w, 2.0), add(c, e, K(c, w, 1.0))));
    LLVMValueRef s = mul(c, x, x);
    LLVMValueRef small = madd(c, w, K(c, w, -5.70498872745E-3), s, K(c, w, 2.06390887954E-2));
    small = madd(c, w, small, s, K(c, w, -5.37397155531E-2));
    small = madd(c, w, small, s, K(c, w, 1.33314422036E-1));
    small = madd(c, w, small, s, K(c, w, -3.33332819422E-1));
    small = madd(c, w, mul(c, small, s), x, x);
    LLVMValueRef signed_big =
        sel(c, fcmp(c, LLVMRealOLT, x, K(c, w, 0.0)), LLVMBuildFNeg(c->b, big, ""), big);
    return sel(c, fcmp(c, LLVMRealOGT, ax, K(c, w, 0.625)), signed_big, small);
}

/* fastmath.h's hb_fast_pow over vectors. s is a constant, so the selects fold to one path
 * when the code is built and the others are never emitted into the loop. */
static LLVMValueRef emit_pow_scalar(cg *c, int w, LLVMTypeRef tf, LLVMValueRef x, LLVMValueRef s)
{
    LLVMValueRef inv_sqrt =
        sel(c, fcmp(c, LLVMRealOEQ, x, K(c, w, -INFINITY)), K(c, w, 0.0),
            fdiv(c, K(c, w, 1.0), intrinsic(c, "llvm.sqrt", tf, add(c, x, K(c, w, 0.0)))));
    return sel(c, fcmp(c, LLVMRealOEQ, s, K(c, w, 2.0)), mul(c, x, x),
               sel(c, fcmp(c, LLVMRealOEQ, s, K(c, w, -0.5)), inv_sqrt,
                   intrinsic2(c, "llvm.pow", tf, x, s)));
}

/* fastmath.h's hb_fast_erf over vectors. */
static LLVMValueRef emit_erf(cg *c, int w, LLVMValueRef x)
{
    LLVMValueRef hi = K(c, w, 4.0), lo = K(c, w, -4.0);
    LLVMValueRef xc =
        sel(c, fcmp(c, LLVMRealOGT, x, hi), hi, sel(c, fcmp(c, LLVMRealOLT, x, lo), lo, x));
    LLVMValueRef s = mul(c, xc, xc);
    static const double num[] = {2.77068142495902e-08, -2.10102402082508e-06,
                                 -5.69250639462346e-05, -7.34990630326855e-04,
                                 -2.95459980854025e-03, -1.60960333262415e-02};
    static const double den[] = {-2.13374055278905e-04, -1.68282697438203e-03,
                                 -7.37332916720468e-03, -1.42647390514189e-02};
    LLVMValueRef p = K(c, w, -2.72614225801306e-10), q = K(c, w, -1.45660718464996e-05);
    for (int i = 0; i < 6; i++)
        p = madd(c, w, p, s, K(c, w, num[i]));
    for (int i = 0; i < 4; i++)
        q = madd(c, w, q, s, K(c, w, den[i]));
    return fdiv(c, mul(c, xc, p), q);
}

static LLVMValueRef truth(cg *c, int w, LLVMValueRef cond)
{
    return sel(c, cond, K(c, w, 1.0), K(c, w, 0.0));
}

static LLVMValueRef neg(cg *c, LLVMValueRef a) { return LLVMBuildFNeg(c->b, a, ""); }
static LLVMValueRef or2(cg *c, LLVMValueRef a, LLVMValueRef b)
{
    return LLVMBuildOr(c->b, a, b, "");
}
static LLVMValueRef and2(cg *c, LLVMValueRef a, LLVMValueRef b)
{
    return LLVMBuildAnd(c->b, a, b, "");
}
static LLVMValueRef is_nan(cg *c, LLVMValueRef a) { return fcmp(c, LLVMRealUNO, a, a); }
static LLVMValueRef nonzero(cg *c, int w, LLVMValueRef a)
{
    return fcmp(c, LLVMRealUNE, a, K(c, w, 0.0));
}

/* One instruction of a program, as step() in program.c computes it: each op's LLVM lowering
 * from its row of ops.def (b is a for one-input ops). The switch names every op, without a
 * default; the ops that are not instructions have no code (NULL). */
static LLVMValueRef emit_ins(cg *c, int w, const hb_prog_ins *in, LLVMValueRef a, LLVMValueRef b)
{
    LLVMTypeRef tf = vec(c, c->f32, w);
    LLVMValueRef s = K(c, w, in->scalar), zero = K(c, w, 0.0), one = K(c, w, 1.0);
    (void)tf, (void)s, (void)zero, (void)one, (void)b;
    switch (in->op) {
#define HB_EW_OP(NAME, name, inputs, flags, rule, attrs, grad, expr, llvm)                    \
    case HB_OP_##NAME:                                                                        \
        return (llvm);
#define HB_OP(NAME, name, lo, hi, flags, rule, attrs, grad)                                    \
    case HB_OP_##NAME:                                                                        \
        return NULL;
#include "../ir/ops.def"
#undef HB_OP
#undef HB_EW_OP
    case HB_OP_COUNT:
        return NULL;
    }
    return NULL;
}

/* Whether op may be an instruction of a program: every such op has its lowering above. */
static bool instruction(hb_op op)
{
    return (unsigned)op < HB_OP_COUNT && (hb_op_table[op].flags & HB_PROG);
}

/* The program on w lanes given its inputs' values; its result. */
static LLVMValueRef emit_program(cg *c, int w, const hb_program *p, const LLVMValueRef *inputs)
{
    LLVMValueRef reg[HB_PROG_MAX_REGS];
    memcpy(reg, inputs, sizeof *reg * (size_t)p->ninputs);
    for (int k = 0; k < p->nins; k++) {
        const hb_prog_ins *in = &p->ins[k];
        bool binary = hb_op_table[in->op].min_inputs == 2;
        reg[p->ninputs + k] = emit_ins(c, w, in, reg[in->a], reg[binary ? in->b : in->a]);
    }
    return reg[p->ninputs + p->nins - 1];
}

/* A stack slot in the entry block (where the optimizer turns it into registers). */
static LLVMValueRef slot(cg *c, LLVMTypeRef t, LLVMValueRef init)
{
    LLVMBasicBlockRef here = LLVMGetInsertBlock(c->b);
    LLVMValueRef first = LLVMGetFirstInstruction(c->entry);
    if (first)
        LLVMPositionBuilderBefore(c->b, first);
    else
        LLVMPositionBuilderAtEnd(c->b, c->entry);
    LLVMValueRef v = LLVMBuildAlloca(c->b, t, "");
    LLVMPositionBuilderAtEnd(c->b, here);
    LLVMBuildStore(c->b, init, v);
    return v;
}

/* A counted loop for (i = start; i < end; i += step), opened and closed around its body. */
typedef struct loop {
    LLVMValueRef var, i;
    LLVMBasicBlockRef test, done;
    int64_t step;
} loop;

static loop loop_open_v(cg *c, LLVMValueRef start, LLVMValueRef end, int64_t step)
{
    loop l = {.var = slot(c, c->i64, start), .step = step};
    l.test = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "test");
    LLVMBasicBlockRef body = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "body");
    l.done = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "done");
    LLVMBuildBr(c->b, l.test);
    LLVMPositionBuilderAtEnd(c->b, l.test);
    l.i = LLVMBuildLoad2(c->b, c->i64, l.var, "");
    LLVMBuildCondBr(c->b, LLVMBuildICmp(c->b, LLVMIntSLT, l.i, end, ""), body, l.done);
    LLVMPositionBuilderAtEnd(c->b, body);
    return l;
}

static loop loop_open(cg *c, int64_t start, int64_t end, int64_t step)
{
    return loop_open_v(c, LLVMConstInt(c->i64, (unsigned long long)start, 1),
                       LLVMConstInt(c->i64, (unsigned long long)end, 1), step);
}

static void loop_close(cg *c, const loop *l)
{
    LLVMBuildStore(
        c->b, LLVMBuildAdd(c->b, l->i, LLVMConstInt(c->i64, (unsigned long long)l->step, 1), ""),
        l->var);
    LLVMBuildBr(c->b, l->test);
    LLVMPositionBuilderAtEnd(c->b, l->done);
}

typedef struct emit_ctx {
    const group *g;
    LLVMValueRef ptr[HB_PROG_MAX_REGS]; /* each input's data */
    LLVMValueRef col[HB_PROG_MAX_REGS]; /* a column input's value for this row */
    LLVMValueRef out, row, base;        /* output data; row index; row * len */
    LLVMValueRef wacc, vacc, sacc;      /* reductions: partial results of the loops of
                                           unroll·lanes, of lanes and of one */
} emit_ctx;

static LLVMValueRef load(cg *c, int w, LLVMValueRef ptr, LLVMValueRef index)
{
    LLVMValueRef at = LLVMBuildGEP2(c->b, c->f32, ptr, &index, 1, "");
    LLVMTypeRef t = vec(c, c->f32, w);
    if (w > 1)
        at = LLVMBuildBitCast(c->b, at, LLVMPointerType(t, 0), "");
    LLVMValueRef v = LLVMBuildLoad2(c->b, t, at, "");
    LLVMSetAlignment(v, 4);
    return v;
}

/* One value in every lane of a w-lane vector. */
static LLVMValueRef spread(cg *c, int w, LLVMValueRef one)
{
    LLVMValueRef v = one;
    if (w > 1) {
        v = LLVMGetUndef(vec(c, c->f32, w));
        for (int l = 0; l < w; l++)
            v = LLVMBuildInsertElement(c->b, v, one, LLVMConstInt(c->i32, (unsigned)l, 0), "");
    }
    return v;
}

/* new = old combined with v by the reduction (vector or scalar). */
static LLVMValueRef combine(cg *c, int w, hb_op op, LLVMValueRef old, LLVMValueRef v)
{
    if (op != HB_OP_MAX)
        return LLVMBuildFAdd(c->b, old, LLVMBuildFPExt(c->b, v, vec(c, c->f64, w), ""), "");
    /* old stays if it is NaN; else v if v is greater or NaN */
    LLVMValueRef take = LLVMBuildAnd(
        c->b, fcmp(c, LLVMRealORD, old, old),
        LLVMBuildOr(c->b, fcmp(c, LLVMRealOGT, v, old), fcmp(c, LLVMRealUNO, v, v), ""), "");
    return sel(c, take, v, old);
}

/* Elements [j, j + w) of the current row. */
static void emit_step(cg *c, emit_ctx *e, int w, LLVMValueRef j)
{
    const group *g = e->g;
    LLVMValueRef ins[HB_PROG_MAX_REGS];
    LLVMValueRef at = LLVMBuildAdd(c->b, e->base, j, "");
    for (int k = 0; k < g->n; k++)
        switch (g->read[k]) {
        case READ_FULL:
            ins[k] = load(c, w, e->ptr[k], at);
            if (w > 1) { /* ahead of the loads: streams cross pages without stalling */
                LLVMValueRef ahead = LLVMBuildAdd(c->b, at, LLVMConstInt(c->i64, 512, 0), "");
                LLVMValueRef addr = LLVMBuildBitCast(
                    c->b, LLVMBuildGEP2(c->b, c->f32, e->ptr[k], &ahead, 1, ""), c->i8p, "");
                LLVMTypeRef pt = c->i8p;
                unsigned id = LLVMLookupIntrinsicID("llvm.prefetch", 13);
                LLVMValueRef f = LLVMGetIntrinsicDeclaration(c->mod, id, &pt, 1);
                LLVMValueRef args[4] = {addr, LLVMConstInt(c->i32, 0, 0),
                                        LLVMConstInt(c->i32, 3, 0), LLVMConstInt(c->i32, 1, 0)};
                LLVMBuildCall2(c->b, LLVMIntrinsicGetType(c->ctx, id, &pt, 1), f, args, 4, "");
            }
            break;
        case READ_ROW: ins[k] = load(c, w, e->ptr[k], j); break;
        case READ_ONE: ins[k] = w == 1 ? LLVMBuildLoad2(c->b, c->f32, e->ptr[k], "") : NULL; break;
        case READ_COLUMN: ins[k] = e->col[k]; break;
        }
    for (int k = 0; k < g->n; k++) /* one value or a column: spread over the lanes */
        if (g->read[k] == READ_ONE || g->read[k] == READ_COLUMN) {
            ins[k] = spread(c, w,
                            g->read[k] == READ_ONE ? LLVMBuildLoad2(c->b, c->f32, e->ptr[k], "")
                                                   : e->col[k]);
        }
    LLVMValueRef y = emit_program(c, w, g->prog, ins);
    if (!g->reduce) {
        LLVMValueRef dst = LLVMBuildGEP2(c->b, c->f32, e->out, &at, 1, "");
        if (w > 1)
            dst = LLVMBuildBitCast(c->b, dst, LLVMPointerType(vec(c, c->f32, w), 0), "");
        LLVMSetAlignment(LLVMBuildStore(c->b, y, dst), 4);
        return;
    }
    LLVMValueRef acc = w > lanes ? e->wacc : w > 1 ? e->vacc : e->sacc;
    LLVMTypeRef at_t = vec(c, g->op == HB_OP_MAX ? c->f32 : c->f64, w);
    LLVMBuildStore(c->b, combine(c, w, g->op, LLVMBuildLoad2(c->b, at_t, acc, ""), y), acc);
}

/* Columns [j, j + units·w) of every row of a gemm, as `units` vectors of w: m × units
 * accumulators over k (several, so the multiply-adds of one do not wait on the last), each
 * added in order p = 0, 1, ... with fused multiply-adds (as BLAS kernels do); then the
 * epilogue on each. */
static void emit_gemm_step(cg *c, emit_ctx *e, int w, int units, LLVMValueRef j)
{
    const group *g = e->g;
    LLVMTypeRef t = vec(c, c->f32, w);
    LLVMValueRef acc[8][4], col[4];
    for (int u = 0; u < units; u++) {
        col[u] = LLVMBuildAdd(c->b, j, LLVMConstInt(c->i64, (unsigned long long)(u * w), 0), "");
        for (int64_t i = 0; i < g->m; i++)
            acc[i][u] = slot(c, t, splat(c, c->f32, w, LLVMConstReal(c->f32, 0.0)));
    }
    loop p = loop_open(c, 0, g->k, 1);
    LLVMValueRef pv = p.i;
    LLVMValueRef brow =
        LLVMBuildMul(c->b, pv, LLVMConstInt(c->i64, (unsigned long long)g->len, 1), "");
    LLVMValueRef bv[4];
    for (int u = 0; u < units; u++)
        bv[u] = load(c, w, e->ptr[1], LLVMBuildAdd(c->b, brow, col[u], ""));
    for (int64_t i = 0; i < g->m; i++) {
        LLVMValueRef ai =
            LLVMBuildAdd(c->b, LLVMConstInt(c->i64, (unsigned long long)(i * g->k), 1), pv, "");
        LLVMValueRef as = spread(
            c, w,
            LLVMBuildLoad2(c->b, c->f32, LLVMBuildGEP2(c->b, c->f32, e->ptr[0], &ai, 1, ""), ""));
        for (int u = 0; u < units; u++)
            LLVMBuildStore(c->b, madd(c, w, as, bv[u], LLVMBuildLoad2(c->b, t, acc[i][u], "")),
                           acc[i][u]);
    }
    loop_close(c, &p);
    for (int64_t i = 0; i < g->m; i++)
        for (int u = 0; u < units; u++) {
            LLVMValueRef ins[HB_PROG_MAX_REGS];
            ins[0] = LLVMBuildLoad2(c->b, t, acc[i][u], "");
            for (int k = 2; k < g->n; k++)
                ins[k - 1] = g->read[k] == READ_ROW
                                 ? load(c, w, e->ptr[k], col[u])
                                 : spread(c, w, LLVMBuildLoad2(c->b, c->f32, e->ptr[k], ""));
            LLVMValueRef y = emit_program(c, w, g->prog, ins);
            LLVMValueRef at = LLVMBuildAdd(
                c->b, LLVMConstInt(c->i64, (unsigned long long)(i * g->len), 1), col[u], "");
            LLVMValueRef dst = LLVMBuildGEP2(c->b, c->f32, e->out, &at, 1, "");
            if (w > 1)
                dst = LLVMBuildBitCast(c->b, dst, LLVMPointerType(t, 0), "");
            LLVMSetAlignment(LLVMBuildStore(c->b, y, dst), 4);
        }
}

/* The lanes of v added pairwise (halves, then quarters, ...): one fixed order. */
static LLVMValueRef sum_lanes(cg *c, LLVMValueRef v, int w)
{
    for (; w > 1; w /= 2) {
        LLVMValueRef lo[16], hi[16];
        for (int l = 0; l < w / 2; l++) {
            lo[l] = LLVMConstInt(c->i32, (unsigned)l, 0);
            hi[l] = LLVMConstInt(c->i32, (unsigned)(l + w / 2), 0);
        }
        LLVMValueRef undef = LLVMGetUndef(LLVMTypeOf(v));
        v = add(c,
                LLVMBuildShuffleVector(c->b, v, undef, LLVMConstVector(lo, (unsigned)(w / 2)), ""),
                LLVMBuildShuffleVector(c->b, v, undef, LLVMConstVector(hi, (unsigned)(w / 2)), ""));
    }
    return LLVMBuildExtractElement(c->b, v, LLVMConstInt(c->i32, 0, 0), "");
}

/* x·bᵀ with b [n, k]: output (i, j) is row i of x dotted with row j of b — vectors of `lanes`
 * products added per lane, then the lanes pairwise, then the last k % lanes in order — and the
 * epilogue (a linear's bias, or the program) on it. */
static void emit_gemm_nt(cg *c, emit_ctx *e)
{
    const group *g = e->g;
    LLVMTypeRef t = vec(c, c->f32, lanes);
    LLVMValueRef acc[8], tail[8];
    for (int64_t i = 0; i < g->m; i++) {
        acc[i] = slot(c, t, splat(c, c->f32, lanes, LLVMConstReal(c->f32, 0.0)));
        tail[i] = slot(c, c->f32, LLVMConstReal(c->f32, 0.0));
    }
    int64_t kv = g->k - g->k % lanes;
    loop j = loop_open(c, 0, g->len, 1);
    for (int64_t i = 0; i < g->m; i++) {
        LLVMBuildStore(c->b, splat(c, c->f32, lanes, LLVMConstReal(c->f32, 0.0)), acc[i]);
        LLVMBuildStore(c->b, LLVMConstReal(c->f32, 0.0), tail[i]);
    }
    LLVMValueRef brow =
        LLVMBuildMul(c->b, j.i, LLVMConstInt(c->i64, (unsigned long long)g->k, 1), "");
    for (int part = 0; part < 2; part++) { /* vectors of lanes, then the rest one by one */
        int w = part == 0 ? lanes : 1;
        if (part == 0 ? kv == 0 : kv == g->k)
            continue;
        loop p = loop_open(c, part == 0 ? 0 : kv, part == 0 ? kv : g->k, w);
        LLVMValueRef bv = load(c, w, e->ptr[1], LLVMBuildAdd(c->b, brow, p.i, ""));
        for (int64_t i = 0; i < g->m; i++) {
            LLVMValueRef xi = LLVMBuildAdd(
                c->b, LLVMConstInt(c->i64, (unsigned long long)(i * g->k), 1), p.i, "");
            LLVMValueRef a = part == 0 ? acc[i] : tail[i];
            LLVMValueRef old = LLVMBuildLoad2(c->b, vec(c, c->f32, w), a, "");
            LLVMBuildStore(c->b, madd(c, w, load(c, w, e->ptr[0], xi), bv, old), a);
        }
        loop_close(c, &p);
    }
    for (int64_t i = 0; i < g->m; i++) {
        LLVMValueRef total = add(c, sum_lanes(c, LLVMBuildLoad2(c->b, t, acc[i], ""), lanes),
                                 LLVMBuildLoad2(c->b, c->f32, tail[i], ""));
        if (g->linear && g->n == 3)
            total = add(c, total, load(c, 1, e->ptr[2], j.i));
        if (!g->linear) {
            LLVMValueRef ins[HB_PROG_MAX_REGS];
            ins[0] = total;
            for (int k = 2; k < g->n; k++)
                ins[k - 1] = load(c, 1, e->ptr[k],
                                  g->read[k] == READ_ROW ? j.i : LLVMConstInt(c->i64, 0, 0));
            total = emit_program(c, 1, g->prog, ins);
        }
        LLVMValueRef at =
            LLVMBuildAdd(c->b, LLVMConstInt(c->i64, (unsigned long long)(i * g->len), 1), j.i, "");
        LLVMBuildStore(c->b, total, LLVMBuildGEP2(c->b, c->f32, e->out, &at, 1, ""));
    }
    loop_close(c, &j);
}

/* for (i = start; i < end; i += step) emit_step(w lanes at i) */
static void emit_loop(cg *c, emit_ctx *e, int w, int64_t start, int64_t end)
{
    if (start >= end)
        return;
    loop i = loop_open(c, start, end, w);
    emit_step(c, e, w, i.i);
    loop_close(c, &i);
}

/* Starts a reduction's partial results. */
static void reset(cg *c, emit_ctx *e)
{
    const group *g = e->g;
    bool max = g->op == HB_OP_MAX;
    LLVMTypeRef t = max ? c->f32 : c->f64;
    LLVMValueRef init = max ? LLVMConstReal(c->f32, -INFINITY) : LLVMConstReal(c->f64, 0.0);
    LLVMBuildStore(c->b, splat(c, t, unroll * lanes, init), e->wacc);
    LLVMBuildStore(c->b, splat(c, t, lanes, init), e->vacc);
    LLVMBuildStore(c->b, init, e->sacc);
}

/* The partial results combined in lane order (the wide loop's, the vector loop's, the last
 * one's): a double for sums, a float for the maximum. */
static LLVMValueRef total_of(cg *c, emit_ctx *e)
{
    bool max = e->g->op == HB_OP_MAX;
    LLVMTypeRef t = max ? c->f32 : c->f64;
    LLVMValueRef total = NULL;
    const struct {
        LLVMValueRef acc;
        int w;
    } parts[3] = {{e->wacc, unroll * lanes}, {e->vacc, lanes}, {e->sacc, 1}};
    for (int k = 0; k < 3; k++) {
        LLVMValueRef v = LLVMBuildLoad2(c->b, vec(c, t, parts[k].w), parts[k].acc, "");
        for (int l = 0; l < parts[k].w; l++) {
            LLVMValueRef x =
                parts[k].w == 1
                    ? v
                    : LLVMBuildExtractElement(c->b, v, LLVMConstInt(c->i32, (unsigned)l, 0), "");
            total = !total ? x
                    : max  ? combine(c, 1, HB_OP_MAX, total, x)
                           : LLVMBuildFAdd(c->b, total, x, "");
        }
    }
    return total;
}

/* Writes the reduction's result (of count values) at index. */
static void finish(cg *c, emit_ctx *e, LLVMValueRef index, int64_t count)
{
    LLVMValueRef total = total_of(c, e);
    if (e->g->op == HB_OP_MEAN)
        total = LLVMBuildFDiv(c->b, total, LLVMConstReal(c->f64, (double)count), "");
    if (e->g->op != HB_OP_MAX)
        total = LLVMBuildFPTrunc(c->b, total, c->f32, "");
    LLVMValueRef dst = LLVMBuildGEP2(c->b, c->f32, e->out, &index, 1, "");
    LLVMBuildStore(c->b, total, dst);
}

/* The reduction's accumulators, in the entry block. */
static void open_partials(cg *c, emit_ctx *e)
{
    LLVMTypeRef t = e->g->op == HB_OP_MAX ? c->f32 : c->f64;
    e->wacc = slot(c, vec(c, t, unroll * lanes), splat(c, t, unroll * lanes, LLVMConstReal(t, 0.0)));
    e->vacc = slot(c, vec(c, t, lanes), splat(c, t, lanes, LLVMConstReal(t, 0.0)));
    e->sacc = slot(c, t, LLVMConstReal(t, 0.0));
}

/* Opens function `name` of params and points e at the inputs' and output's data (in[k].data,
 * out->data: the first field of each hb_operand) from parameters `in` and `out`. */
static void open_function(cg *c, emit_ctx *e, const char *name, LLVMTypeRef *params, int nparams,
                          int in, int out, size_t operand_size)
{
    c->fn = LLVMAddFunction(c->mod, name,
                            LLVMFunctionType(c->voidt, params, (unsigned)nparams, 0));
    c->entry = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "entry");
    LLVMPositionBuilderAtEnd(c->b, c->entry);
    LLVMTypeRef f32pp = LLVMPointerType(c->f32p, 0);
    for (int k = 0; k < e->g->n; k++) {
        LLVMValueRef off = LLVMConstInt(c->i64, (unsigned long long)(k * operand_size), 0);
        LLVMValueRef at = LLVMBuildGEP2(c->b, LLVMInt8TypeInContext(c->ctx),
                                        LLVMGetParam(c->fn, (unsigned)in), &off, 1, "");
        e->ptr[k] = LLVMBuildLoad2(c->b, c->f32p, LLVMBuildBitCast(c->b, at, f32pp, ""), "");
    }
    e->out = LLVMBuildLoad2(
        c->b, c->f32p, LLVMBuildBitCast(c->b, LLVMGetParam(c->fn, (unsigned)out), f32pp, ""), "");
}

/* A group of one row split over the pool (g->split): the function for elements [start, end)
 * of it, void part(in, start, end, out, double *partial), which for a reduction leaves the
 * part's sum or maximum in *partial instead of writing the output. */
static void emit_part(cg *c, const group *g, const char *name, size_t operand_size)
{
    emit_ctx e = {.g = g};
    LLVMTypeRef params[5] = {c->i8p, c->i64, c->i64, c->i8p, LLVMPointerType(c->f64, 0)};
    open_function(c, &e, name, params, 5, 0, 3, operand_size);
    if (g->reduce) {
        open_partials(c, &e);
        reset(c, &e);
    }
    e.row = LLVMConstInt(c->i64, 0, 0);
    e.base = e.row;
    for (int k = 0; k < g->n; k++)
        if (g->read[k] == READ_COLUMN)
            e.col[k] = LLVMBuildLoad2(c->b, c->f32, e.ptr[k], "");
    LLVMValueRef start = LLVMGetParam(c->fn, 1), end = LLVMGetParam(c->fn, 2);
    LLVMValueRef at = start;
    const int widths[3] = {unroll * lanes, lanes, 1};
    for (int k = 0; k < 3; k++) { /* each loop up to the last whole step of its width */
        int w = widths[k];
        LLVMValueRef wv = LLVMConstInt(c->i64, (unsigned long long)w, 0);
        LLVMValueRef stop = LLVMBuildAdd(
            c->b, at,
            LLVMBuildMul(c->b, LLVMBuildSDiv(c->b, LLVMBuildSub(c->b, end, at, ""), wv, ""), wv, ""),
            "");
        loop i = loop_open_v(c, at, stop, w);
        emit_step(c, &e, w, i.i);
        loop_close(c, &i);
        at = stop;
    }
    if (g->reduce) {
        LLVMValueRef total = total_of(c, &e);
        if (g->op == HB_OP_MAX)
            total = LLVMBuildFPExt(c->b, total, c->f64, "");
        LLVMBuildStore(c->b, total, LLVMGetParam(c->fn, 4));
    }
    LLVMBuildRetVoid(c->b);
}

/* The function for one fused instruction. */
static void emit_group(cg *c, const group *g, const char *name, size_t operand_size)
{
    emit_ctx e = {.g = g};
    LLVMTypeRef params[4] = {c->i8p, c->i32, c->i8p, c->i8p};
    open_function(c, &e, name, params, 4, 0, 2, operand_size);
    if (g->gemm && g->trans_b) {
        emit_gemm_nt(c, &e);
        LLVMBuildRetVoid(c->b);
        return;
    }
    if (g->gemm) { /* columns four vectors at a time, then one, then one by one */
        int64_t n4 = g->len - g->len % (4 * lanes), nv = g->len - g->len % lanes;
        const struct {
            int64_t start, end;
            int w, units;
        } parts[3] = {{0, n4, lanes, 4}, {n4, nv, lanes, 1}, {nv, g->len, 1, 1}};
        for (int k = 0; k < 3; k++) {
            if (parts[k].start >= parts[k].end)
                continue;
            loop j = loop_open(c, parts[k].start, parts[k].end, parts[k].w * parts[k].units);
            emit_gemm_step(c, &e, parts[k].w, parts[k].units, j.i);
            loop_close(c, &j);
        }
        LLVMBuildRetVoid(c->b);
        return;
    }
    if (g->reduce) {
        open_partials(c, &e);
        if (g->all)
            reset(c, &e);
    }
    int64_t vec_end = g->len - g->len % lanes, wide_end = g->len - g->len % (unroll * lanes);
    loop r = loop_open(c, 0, g->rows, 1);
    e.row = r.i;
    e.base = LLVMBuildMul(c->b, e.row, LLVMConstInt(c->i64, (unsigned long long)g->len, 1), "");
    for (int k = 0; k < g->n; k++)
        if (g->read[k] == READ_COLUMN) {
            LLVMValueRef at = LLVMBuildGEP2(c->b, c->f32, e.ptr[k], &e.row, 1, "");
            e.col[k] = LLVMBuildLoad2(c->b, c->f32, at, "");
        }
    if (g->reduce && !g->all)
        reset(c, &e);
    emit_loop(c, &e, unroll * lanes, 0, wide_end);
    emit_loop(c, &e, lanes, wide_end, vec_end);
    emit_loop(c, &e, 1, vec_end, g->len);
    if (g->reduce && !g->all)
        finish(c, &e, e.row, g->len);
    loop_close(c, &r);
    if (g->reduce && g->all)
        finish(c, &e, LLVMConstInt(c->i64, 0, 0), g->rows * g->len);
    LLVMBuildRetVoid(c->b);
}

/* ---- which instructions, and how their inputs are read ------------------------------------- */

/* How input shape s is read against the program's shape out (rows × len); false if none of
 * the ways the JIT reads. */
static bool read_of(const hb_shape *s, const hb_shape *out, read_kind *k)
{
    int64_t numel = hb_shape_numel(s), len = out->ndim ? out->dim[out->ndim - 1] : 1;
    if (hb_shape_equal(s, out)) {
        *k = READ_FULL;
        return true;
    }
    if (numel == 1) {
        *k = READ_ONE;
        return true;
    }
    bool column = s->ndim == out->ndim && s->ndim >= 2 && s->dim[s->ndim - 1] == 1;
    for (int d = 0; column && d + 1 < s->ndim; d++)
        column = s->dim[d] == out->dim[d];
    if (column) {
        *k = READ_COLUMN;
        return true;
    }
    bool row = s->ndim >= 1 && s->ndim <= out->ndim && s->dim[s->ndim - 1] == len;
    for (int d = 0; row && d + 1 < s->ndim; d++)
        row = s->dim[d] == 1;
    *k = READ_ROW;
    return row;
}

/* The group of instruction ins, if the JIT handles it. */
enum { GEMM_MAX_ROWS = 8, GEMM_MAX_K = 4096, DOT_MIN_K = 32 };

/* x·wᵀ (a linear, or a gemm with trans_b) with few rows and a long enough k that each output
 * is worth a vector dot product (below that the small-GEMM kernel does better). */
static bool gemm_nt_of(const hb_plan *p, const hb_instr *ins, group *g)
{
    const int *slots = &p->operand_slots[ins->first_operand];
    const hb_shape *a = &p->slots[slots[0]].shape, *b = &p->slots[slots[1]].shape;
    bool linear = ins->op == HB_OP_LINEAR;
    if (b->ndim != 2 || a->ndim < 1 || ins->attrs.trans_a || ins->ninputs > HB_PROG_MAX_REGS ||
        (!linear && (!ins->attrs.prog || ins->attrs.prog->ninputs != ins->ninputs - 1)))
        return false;
    *g = (group){.prog = linear ? NULL : ins->attrs.prog,
                 .n = ins->ninputs,
                 .gemm = true,
                 .trans_b = true,
                 .linear = linear,
                 .k = b->dim[1],
                 .len = b->dim[0]};
    g->m = g->k ? hb_shape_numel(a) / g->k : 0;
    if (g->m < 1 || g->m > GEMM_MAX_ROWS || g->k < DOT_MIN_K || g->k > GEMM_MAX_K || g->len < 1 ||
        a->dim[a->ndim - 1] != g->k)
        return false;
    hb_shape out = p->slots[slots[ins->ninputs]].shape;
    for (int k = 2; k < ins->ninputs; k++)
        if (!read_of(&p->slots[slots[k]].shape, &out, &g->read[k]) ||
            (g->read[k] != READ_ROW && g->read[k] != READ_ONE))
            return false;
    for (int k = 0; !linear && k < g->prog->nins; k++)
        if (!instruction(g->prog->ins[k].op))
            return false;
    return true;
}

/* A gemm the JIT computes as x·b with b read as [k, len] rows: few rows of x — where a call
 * into BLAS costs more than the arithmetic — and epilogue inputs that are rows of len or single
 * values. */
static bool gemm_rows_of(const hb_plan *p, const hb_instr *ins, int64_t k, int64_t len, group *g)
{
    const int *slots = &p->operand_slots[ins->first_operand];
    const hb_shape *a = &p->slots[slots[0]].shape;
    if (ins->attrs.trans_a || a->ndim < 1 || !ins->attrs.prog ||
        ins->attrs.prog->ninputs != ins->ninputs - 1 || ins->ninputs > HB_PROG_MAX_REGS)
        return false;
    *g = (group){.prog = ins->attrs.prog, .n = ins->ninputs, .gemm = true, .k = k, .len = len};
    g->m = g->k ? hb_shape_numel(a) / g->k : 0;
    if (g->m < 1 || g->m > GEMM_MAX_ROWS || g->k < 1 || g->k > GEMM_MAX_K || g->len < 1 ||
        a->dim[a->ndim - 1] != g->k)
        return false;
    hb_shape out = p->slots[slots[ins->ninputs]].shape;
    for (int k = 2; k < ins->ninputs; k++)
        if (!read_of(&p->slots[slots[k]].shape, &out, &g->read[k]) ||
            (g->read[k] != READ_ROW && g->read[k] != READ_ONE))
            return false;
    for (int k = 0; k < g->prog->nins; k++)
        if (!instruction(g->prog->ins[k].op))
            return false;
    return true;
}

/* x·b with b [k, n] as stored: a frozen plan's weight transposed at lowering, or a matmul. */
static bool gemm_of(const hb_plan *p, const hb_instr *ins, group *g)
{
    const hb_shape *b = &p->slots[p->operand_slots[ins->first_operand + 1]].shape;
    return !ins->attrs.trans_b && b->ndim == 2 && gemm_rows_of(p, ins, b->dim[0], b->dim[1], g);
}

/* x·wᵀ over a live w [n, k] of too short a k for gemm_nt_of's dot products, whose transpose
 * the plan keeps (weights.c): the code a frozen plan runs over its weight transposed at
 * lowering, reading the kept wᵀ — or, while none is kept, wᵀ made for the call, so that every
 * call sums alike. */
static bool gemm_kept_t_of(const hb_plan *p, const hb_instr *ins, group *g)
{
    const hb_shape *b = &p->slots[p->operand_slots[ins->first_operand + 1]].shape;
    if (!hb_live_is_transposed(ins->live) || ins->op != HB_OP_GEMM || b->ndim != 2 ||
        !gemm_rows_of(p, ins, b->dim[1], b->dim[0], g))
        return false;
    g->kept_t = true;
    return true;
}

static bool group_of(const hb_plan *p, const hb_instr *ins, group *g)
{
    if (ins->op == HB_OP_LINEAR || (ins->op == HB_OP_GEMM && ins->attrs.trans_b))
        return gemm_nt_of(p, ins, g) || gemm_kept_t_of(p, ins, g);
    if (ins->op == HB_OP_GEMM)
        return gemm_of(p, ins, g);
    if (ins->op != HB_OP_FUSED && ins->op != HB_OP_FUSED_REDUCE)
        return false;
    const int *slots = &p->operand_slots[ins->first_operand];
    *g = (group){.prog = ins->attrs.prog,
                 .n = ins->ninputs,
                 .reduce = ins->op == HB_OP_FUSED_REDUCE,
                 .all = ins->attrs.all,
                 .op = ins->attrs.reduce};
    if (!g->prog || g->prog->ninputs != g->n || g->prog->nins < 1 || g->n > HB_PROG_MAX_REGS)
        return false;
    hb_shape shape = p->slots[slots[0]].shape; /* the program's: its inputs broadcast */
    for (int k = 1; k < g->n; k++)
        if (!hb_shape_broadcast(&shape, &p->slots[slots[k]].shape, &shape))
            return false;
    if (!g->reduce && !hb_shape_equal(&shape, &p->slots[slots[g->n]].shape))
        return false;
    int64_t numel = hb_shape_numel(&shape);
    if (numel == 0 || (g->reduce && !g->all && shape.ndim == 0))
        return false;
    bool flat = true;
    for (int k = 0; k < g->n; k++) {
        if (!read_of(&p->slots[slots[k]].shape, &shape, &g->read[k]))
            return false;
        flat = flat && (g->read[k] == READ_FULL || g->read[k] == READ_ONE);
    }
    g->len = shape.ndim ? shape.dim[shape.ndim - 1] : 1;
    g->rows = numel / g->len;
    if (flat && (!g->reduce || g->all)) /* one long row vectorizes best */
        g->len = numel, g->rows = 1;
    g->split = g->rows == 1 && (!g->reduce || g->all) && g->len >= SPLIT_MIN;
    for (int k = 0; k < g->prog->nins; k++)
        if (!instruction(g->prog->ins[k].op))
            return false;
    return true;
}

/* ---- a plan's code -------------------------------------------------------------------------- */

/* A group split over the pool: its part function and where its parts begin. The parts are
 * fixed by the group's size alone — never by the thread count — and a reduction adds the
 * parts' partial results in part order, so 1 thread or 8 give the same bits. */
typedef void (*part_fn)(const hb_operand *in, int64_t start, int64_t end, const hb_operand *out,
                        double *partial);
typedef struct jit_part {
    part_fn fn;
    int64_t numel, chunk;
    int parts;
    bool reduce;
    hb_op op;
    /* a gemm over a kept transpose: its code, the interpreter's kernel, and the weights */
    hb_kernel_fn code, interpreted;
    const hb_live_weights *live;
    int64_t k, cols;
} jit_part;

typedef struct plan_code {
    LLVMOrcResourceTrackerRef rt;
    jit_part *parts; /* per compiled group, used by the split ones (attrs.part points here) */
} plan_code;

typedef struct part_job {
    const jit_part *jp;
    const hb_operand *in, *out;
    double partial[MAX_PARTS];
} part_job;

static void run_part(void *ctx, int part, int parts)
{
    (void)parts;
    part_job *j = ctx;
    int64_t start = part * j->jp->chunk, end = start + j->jp->chunk;
    j->jp->fn(j->in, start, end < j->jp->numel ? end : j->jp->numel, j->out, &j->partial[part]);
}

/* The kernel of a split group: its parts on the plan's threads, then a reduction's partial
 * results combined as one thread would (the sums in double, NaN winning a maximum). */
static void run_parts(const hb_operand *in, int n, const hb_operand *out, const hb_attrs *at)
{
    (void)n;
    part_job j = {.jp = at->part, .in = in, .out = out};
    hb_pool_run(hb_threads_wanted(), j.jp->parts, run_part, &j);
    if (!j.jp->reduce)
        return;
    double total = j.partial[0];
    for (int k = 1; k < j.jp->parts; k++) {
        double v = j.partial[k];
        if (j.jp->op != HB_OP_MAX)
            total += v;
        else if (total == total && (v > total || v != v))
            total = v;
    }
    if (j.jp->op == HB_OP_MEAN)
        total /= (double)j.jp->numel;
    out->data[0] = (float)total;
}

/* The kernel of a gemm over a kept transpose (gemm_kept_t_of): its code on wᵀ as kept, or as
 * transposed for this call while none is (the weight open for writing, or a version's first
 * call). Without memory for that, the interpreter's loops read w in place: the same result
 * to rounding. */
static void run_kept_t(const hb_operand *in, int n, const hb_operand *out, const hb_attrs *at)
{
    const jit_part *jp = at->part;
    float *own = at->transposed ? NULL
                                : hb_aligned_alloc(sizeof(float) * (size_t)(jp->k * jp->cols));
    if (!at->transposed && !own) {
        jp->interpreted(in, n, out, at);
        return;
    }
    hb_operand ops[HB_PROG_MAX_REGS];
    memcpy(ops, in, sizeof *ops * (size_t)n);
    if (own)
        hb_live_transpose(jp->live, own);
    ops[1].data = own ? own : (float *)at->transposed;
    jp->code(ops, n, out, at);
    hb_aligned_free(own);
}

static jit_part part_of(const group *g)
{
    jit_part jp = {.numel = g->len, .reduce = g->reduce, .op = g->op};
    int64_t step = unroll * lanes; /* parts begin on whole steps of the wide loop */
    jp.chunk = (g->len + MAX_PARTS - 1) / MAX_PARTS;
    jp.chunk = jp.chunk < PART_MIN ? PART_MIN : jp.chunk;
    jp.chunk = (jp.chunk + step - 1) / step * step;
    jp.parts = (int)((g->len + jp.chunk - 1) / jp.chunk);
    return jp;
}

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

/* Emits, optimizes and links the groups of p (instructions which[]); stores the functions'
 * addresses as those instructions' kernels, and the code's tracker in *rt. */
static hb_status compile(hb_plan *p, const int *which, const group *groups, int n,
                         plan_code *code, char *err, size_t err_size)
{
    LLVMOrcThreadSafeContextRef tsc = LLVMOrcCreateNewThreadSafeContext();
    cg c = {.ctx = LLVMOrcThreadSafeContextGetContext(tsc)};
    c.mod = LLVMModuleCreateWithNameInContext("hybrid", c.ctx);
    c.b = LLVMCreateBuilderInContext(c.ctx);
    c.f32 = LLVMFloatTypeInContext(c.ctx), c.f64 = LLVMDoubleTypeInContext(c.ctx);
    c.i32 = LLVMInt32TypeInContext(c.ctx), c.i64 = LLVMInt64TypeInContext(c.ctx);
    c.i1 = LLVMInt1TypeInContext(c.ctx), c.voidt = LLVMVoidTypeInContext(c.ctx);
    c.i8p = LLVMPointerType(LLVMInt8TypeInContext(c.ctx), 0);
    c.f32p = LLVMPointerType(c.f32, 0);
    char *triple = LLVMGetTargetMachineTriple(opt_tm);
    LLVMSetTarget(c.mod, triple);
    LLVMDisposeMessage(triple);
    LLVMTargetDataRef layout = LLVMCreateTargetDataLayout(opt_tm);
    char *dl = LLVMCopyStringRepOfTargetData(layout);
    LLVMSetDataLayout(c.mod, dl);
    LLVMDisposeMessage(dl);
    LLVMDisposeTargetData(layout);
    char name[64];
    for (int i = 0; i < n; i++) {
        snprintf(name, sizeof name, "hb_plan%llu_%d", (unsigned long long)p->id, which[i]);
        (groups[i].split ? emit_part : emit_group)(&c, &groups[i], name, sizeof(hb_operand));
    }
    LLVMDisposeBuilder(c.b);
    LLVMPassBuilderOptionsRef po = LLVMCreatePassBuilderOptions();
    LLVMPassBuilderOptionsSetLoopVectorization(po, 1);
    LLVMPassBuilderOptionsSetSLPVectorization(po, 1);
    LLVMErrorRef e = LLVMRunPasses(c.mod, "default<O3>", opt_tm, po);
    LLVMDisposePassBuilderOptions(po);
    const char *dump = getenv("HB_JIT_DUMP"); /* the optimized IR, appended to that file */
    FILE *df = dump && !e ? fopen(dump, "a") : NULL;
    if (df) {
        char *text = LLVMPrintModuleToString(c.mod);
        fputs(text, df);
        LLVMDisposeMessage(text);
        fclose(df);
    }
    if (e) {
        take_error(e, err, err_size);
        LLVMDisposeModule(c.mod);
        LLVMOrcDisposeThreadSafeContext(tsc);
        return HB_ERR_STATE;
    }
    LLVMOrcThreadSafeModuleRef tsm = LLVMOrcCreateNewThreadSafeModule(c.mod, tsc);
    LLVMOrcDisposeThreadSafeContext(tsc); /* the module keeps its context */
    LLVMOrcResourceTrackerRef *rt = &code->rt;
    *rt = LLVMOrcJITDylibCreateResourceTracker(LLVMOrcLLJITGetMainJITDylib(jit));
    e = LLVMOrcLLJITAddLLVMIRModuleWithRT(jit, *rt, tsm); /* takes tsm, failing or not */
    LLVMOrcExecutorAddress found[64];
    for (int i = 0; !e && i < n; i++) { /* the first lookup compiles the module */
        LLVMOrcExecutorAddress addr = 0;
        snprintf(name, sizeof name, "hb_plan%llu_%d", (unsigned long long)p->id, which[i]);
        e = LLVMOrcLLJITLookup(jit, &addr, name);
        found[i] = addr;
    }
    if (e) {
        take_error(e, err, err_size);
        LLVMOrcResourceTrackerRemove(*rt);
        LLVMOrcReleaseResourceTracker(*rt);
        *rt = NULL;
        return HB_ERR_STATE;
    }
    for (int i = 0; i < n; i++) { /* all or none: the plan is as lowered or all compiled */
        hb_instr *ins = &p->instrs[which[i]];
        if (groups[i].split) {
            code->parts[i] = part_of(&groups[i]);
            code->parts[i].fn = (part_fn)(uintptr_t)found[i];
            ins->attrs.part = &code->parts[i];
            ins->kernel = run_parts;
        } else if (groups[i].kept_t) { /* reads the weight's kept form: ins->live stays */
            code->parts[i] = (jit_part){.code = (hb_kernel_fn)(uintptr_t)found[i],
                                        .interpreted = ins->kernel,
                                        .live = ins->live,
                                        .k = groups[i].k,
                                        .cols = groups[i].len};
            ins->attrs.part = &code->parts[i];
            ins->kernel = run_kept_t;
            continue;
        } else {
            ins->kernel = (hb_kernel_fn)(uintptr_t)found[i];
        }
        hb_live_free(ins->live); /* the code reads the weight as stored */
        ins->live = NULL;
    }
    return HB_OK;
}

enum { MAX_GROUPS = 64 };

hb_status hb_jit_plan(hb_plan *p, char *err, size_t err_size)
{
    pthread_once(&init_once, init);
    if (!jit) {
        snprintf(err, err_size, "the JIT did not start: %s", init_error);
        return HB_ERR_UNSUPPORTED;
    }
    double t0 = now_ms();
    hb_status st = HB_OK;
    int which[MAX_GROUPS], n = 0;
    group groups[MAX_GROUPS];
    p->fused_groups = p->jit_groups = 0;
    for (int i = 0; i < p->ninstrs && st == HB_OK; i++) {
        hb_instr *ins = &p->instrs[i];
        if (ins->body) { /* a loop's or scan's body: a plan of its own, counted in this one */
            st = hb_jit_plan(ins->body, err, err_size);
            p->fused_groups += ins->body->fused_groups;
            p->jit_groups += ins->body->jit_groups;
        }
        if (ins->op != HB_OP_FUSED && ins->op != HB_OP_FUSED_REDUCE && ins->op != HB_OP_GEMM &&
            ins->op != HB_OP_LINEAR)
            continue;
        p->fused_groups++;
        if (n < MAX_GROUPS && group_of(p, ins, &groups[n]))
            which[n++] = i;
    }
    /* the record first: once compile() has run, the kernels point into the code */
    plan_code *code = st == HB_OK && n > 0 ? hb_calloc(1, sizeof *code) : NULL;
    if (code && !(code->parts = hb_calloc((size_t)n, sizeof *code->parts)))
        hb_free(code), code = NULL;
    if (st == HB_OK && n > 0 && !code) {
        snprintf(err, err_size, "out of memory for the JIT's record of a plan");
        st = HB_ERR_NOMEM;
    }
    if (code) {
        pthread_mutex_lock(&compiling);
        st = compile(p, which, groups, n, code, err, err_size);
        pthread_mutex_unlock(&compiling);
        if (st == HB_OK) {
            p->jit = code, p->jit_groups += n;
        } else {
            hb_free(code->parts);
            hb_free(code);
        }
    }
    p->jit_ms = now_ms() - t0;
    return st;
}

void hb_jit_release(hb_plan *p)
{
    plan_code *code = p ? p->jit : NULL;
    if (!code)
        return;
    pthread_mutex_lock(&compiling);
    LLVMErrorRef e = LLVMOrcResourceTrackerRemove(code->rt);
    if (e)
        LLVMConsumeError(e);
    LLVMOrcReleaseResourceTracker(code->rt);
    pthread_mutex_unlock(&compiling);
    hb_free(code->parts);
    hb_free(code);
    p->jit = NULL;
}

#endif
