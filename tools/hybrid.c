/* The `hybrid` command (docs/cli.md): the seed chapter's models from the shell. Every failure
 * ends in one line on stderr naming what was wrong and a non-zero status, and no output file is
 * written unless every input ran. */
#include "../bench/timing.h"
#include "models.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <time.h>

enum { EXIT_USAGE = 2 };

static const char usage[] =
    "usage: hybrid COMMAND [options]\n"
    "\n"
    "commands:\n"
    "  demo                      the seed chapter end to end: every model eager, then\n"
    "                            hybridized: what compiled, what fell back and why, speed\n"
    "  run MODEL [--weights W.safetensors] --input X.npy --output Y.npy\n"
    "            [--input X2.npy --output Y2.npy ...] [--mode eager|hybrid] [--threads N]\n"
    "            [--freeze] [--interpret] [--carry INPUT=OUTPUT ...]\n"
    "                            one block instance runs each input in order; in hybrid mode\n"
    "                            the first call traces and later calls run the plan. An ONNX\n"
    "                            model of k graph inputs takes k --input per --output, each\n"
    "                            NAME=X.npy or X.npy in the graph's order (ids, masks: any dtype);\n"
    "                            --carry h0=hn: each call's output hn is the next call's input\n"
    "                            h0 (recurrent state), given only to the first call\n"
    "  dump MODEL [--batch N] [--features N] [--after PASS|all] [--format text|dot]\n"
    "            [--train [--optimizer sgd|adam] [--lr F]]\n"
    "                            the IR as traced, after a pass, or after every pass; with\n"
    "                            --train, one compiled training step: forward, loss, the\n"
    "                            backward (autodiff pass) and the optimizer's update\n"
    "  explain MODEL [--batch N] [--features N] [--json]\n"
    "                            what was traced, compiled and planned; every eager island\n"
    "  bench MODEL [--batch N] [--features N | --input X.npy ...] [--json] [--threads N]\n"
    "                            per-call time eager vs compiled, same process, same inputs\n"
    "                            (random ones, or the files given: one per ONNX graph input)\n"
    "  grad MODEL --weights W --input X.npy --grad-output G.npy --output GRADS.safetensors\n"
    "            [--mode eager|hybrid]\n"
    "                            gradients of sum(output * G) for every trainable parameter;\n"
    "                            hybrid: forward and backward as one compiled plan\n"
    "  train MODEL [--epochs N] [--batch N] [--optimizer sgd|adam] [--lr F] [--svg LOSS.svg]\n"
    "            [--mode eager|hybrid]\n"
    "                            trains on a seeded Gaussian mixture (one cluster per output\n"
    "                            class), a progress line per epoch, the loss curve as SVG;\n"
    "                            each step one compiled plan unless --mode eager\n"
    "  export MODEL --output MODEL.onnx [--input X.npy | --batch N --features N]\n"
    "            [--weights W.safetensors]\n"
    "                            the model traced on the input, written as an ONNX model\n"
    "                            (opset 13) with its weights under their state-dict names\n"
    "  models                    the models this build knows\n"
    "  help                      this text\n"
    "\n"
    "--freeze (run, dump, explain, bench): compile for inference, with parameters as\n"
    "constants: folded and packed once, updates not seen.\n"
    "--interpret (run, dump, explain, bench): fused groups run in the interpreter rather than\n"
    "as native code from the LLVM JIT (HB_JIT=0 does the same for any program).\n"
    "MODEL is one of the names `hybrid models` lists, or an ONNX file (NAME.onnx: run, dump,\n"
    "explain, bench and export read it; its declared input shape is used where no input file\n"
    "is given, --batch for a symbolic first dim). Without --weights the model is initialized\n"
    "from seed 0; without an input file the input is uniform random [batch, features]\n"
    "(default [2, 20]), or [batch, features, H, W] for image models (resnet-mini: [2, 3, 32, 32],\n"
    "resnet18: [1, 3, 224, 224]; --features is the channel count). run and grad default to\n"
    "--mode eager, the others to hybrid.\n";

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("hybrid: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 1;
}

static int list_models(void)
{
    int width = 0;
    for (int i = 0; i < example_model_count; i++)
        width = (int)strlen(example_models[i].name) > width ? (int)strlen(example_models[i].name) : width;
    for (int i = 0; i < example_model_count; i++)
        printf("%-*s %s\n", width, example_models[i].name, example_models[i].about);
    return 0;
}

/* t's shape, "[2, 20]", with its dtype in front unless float32 ("int64 [2, 16]"). */
static const char *input_str(const hb_tensor *t, char *buf, size_t size)
{
    char sb[80];
    hb_shape_str(hb_tensor_ndim(t), hb_tensor_shape(t), sb, sizeof sb);
    bool f32 = hb_tensor_dtype(t) == HB_F32;
    snprintf(buf, size, "%s%s%s", f32 ? "" : hb_dtype_name(hb_tensor_dtype(t)), f32 ? "" : " ", sb);
    return buf;
}

/* Whether MODEL names an ONNX file rather than a built-in model. */
static bool is_onnx(const char *name)
{
    size_t n = strlen(name);
    return n > 5 && strcmp(name + n - 5, ".onnx") == 0;
}

static hb_block *make_model(const char *name)
{
    if (is_onnx(name)) {
        hb_block *b = hb_onnx_load(name);
        if (!b)
            fail("%s", hb_last_error());
        return b;
    }
    hb_block *b = example_model_new(name, 0);
    if (!b && !example_model_find(name)) {
        fprintf(stderr, "hybrid: unknown model \"%s\"; known models:", name);
        for (int i = 0; i < example_model_count; i++)
            fprintf(stderr, " %s", example_models[i].name);
        fputc('\n', stderr);
    } else if (!b) {
        fail("cannot build model %s: %s", name, hb_last_error());
    }
    return b;
}

/* ---- options shared by the commands ------------------------------------------------------ */

typedef struct options {
    const char *model, *weights, *mode, *after, *format, *grad_output, *optimizer, *svg;
    const char **inputs, **outputs, **carries;
    int ninputs, noutputs, ncarries, threads;
    int64_t batch, features, epochs;
    double lr;
    bool json, freeze, train, interpret;
} options;

static bool parse_count(const char *opt, const char *text, int64_t max, int64_t *out)
{
    char *end;
    errno = 0;
    long long n = strtoll(text, &end, 10);
    if (errno || *end || end == text || n < 1 || n > max) {
        fail("%s needs a whole number from 1 to %lld, not \"%s\"", opt, (long long)max, text);
        return false;
    }
    *out = n;
    return true;
}

/* Parses argv[2..] against the options the command accepts (a space-separated list). */
static int parse(int argc, char **argv, const char *accepted, options *o)
{
    o->inputs = calloc((size_t)argc, sizeof *o->inputs);
    o->outputs = calloc((size_t)argc, sizeof *o->outputs);
    o->carries = calloc((size_t)argc, sizeof *o->carries);
    o->mode = strcmp(argv[1], "run") == 0 || strcmp(argv[1], "grad") == 0 ? "eager" : "hybrid";
    o->format = "text";
    if (!o->inputs || !o->outputs || !o->carries)
        return fail("out of memory");
    for (int i = 2; i < argc; i++) {
        const char *opt = argv[i];
        if (strncmp(opt, "--", 2) != 0) {
            if (o->model)
                return fail("%s: unexpected argument \"%s\" (see hybrid help)", argv[1], opt);
            o->model = opt;
            continue;
        }
        char word[64];
        snprintf(word, sizeof word, " %s ", opt + 2);
        char list[256];
        snprintf(list, sizeof list, " %s ", accepted);
        if (!strstr(list, word))
            return fail("%s: unknown option %s (see hybrid help)", argv[1], opt);
        bool *flag = strcmp(opt, "--json") == 0        ? &o->json
                     : strcmp(opt, "--freeze") == 0    ? &o->freeze
                     : strcmp(opt, "--train") == 0     ? &o->train
                     : strcmp(opt, "--interpret") == 0 ? &o->interpret
                                                       : NULL;
        if (flag) {
            *flag = true;
            continue;
        }
        if (i + 1 >= argc)
            return fail("option %s needs a value", opt);
        const char *v = argv[++i];
        int64_t n;
        if (strcmp(opt, "--weights") == 0)
            o->weights = v;
        else if (strcmp(opt, "--input") == 0)
            o->inputs[o->ninputs++] = v;
        else if (strcmp(opt, "--output") == 0)
            o->outputs[o->noutputs++] = v;
        else if (strcmp(opt, "--carry") == 0)
            o->carries[o->ncarries++] = v;
        else if (strcmp(opt, "--mode") == 0)
            o->mode = v;
        else if (strcmp(opt, "--after") == 0)
            o->after = v;
        else if (strcmp(opt, "--grad-output") == 0)
            o->grad_output = v;
        else if (strcmp(opt, "--format") == 0)
            o->format = v;
        else if (strcmp(opt, "--optimizer") == 0)
            o->optimizer = v;
        else if (strcmp(opt, "--svg") == 0)
            o->svg = v;
        else if (strcmp(opt, "--epochs") == 0) {
            if (!parse_count(opt, v, 100000, &o->epochs))
                return 1;
        } else if (strcmp(opt, "--lr") == 0) {
            char *end;
            o->lr = strtod(v, &end);
            if (*end || end == v || !(o->lr > 0 && o->lr < 100))
                return fail("--lr needs a learning rate above 0 (and below 100), not \"%s\"", v);
        }
        else if (strcmp(opt, "--threads") == 0) {
            if (!parse_count(opt, v, 1024, &n))
                return 1;
            o->threads = (int)n;
        } else if (strcmp(opt, "--batch") == 0) {
            if (!parse_count(opt, v, 1 << 20, &o->batch))
                return 1;
        } else if (strcmp(opt, "--features") == 0) {
            if (!parse_count(opt, v, 1 << 24, &o->features))
                return 1;
        }
    }
    if (!o->model)
        return fail("%s: which model? (hybrid models lists them)", argv[1]);
    if (strcmp(o->mode, "eager") != 0 && strcmp(o->mode, "hybrid") != 0)
        return fail("--mode must be eager or hybrid, not \"%s\"", o->mode);
    if (strcmp(o->format, "text") != 0 && strcmp(o->format, "dot") != 0)
        return fail("--format must be text or dot, not \"%s\"", o->format);
    if (o->threads)
        hb_set_num_threads(o->threads);
    return 0;
}

static void options_free(options *o)
{
    free(o->inputs);
    free(o->outputs);
    free(o->carries);
}

/* The model with its weights, hybridized (frozen with --freeze) unless --mode eager, or NULL
 * after printing why. */
static hb_block *load_model(const options *o)
{
    hb_block *net = make_model(o->model);
    bool hybrid = strcmp(o->mode, "hybrid") == 0;
    if (net && ((o->weights && hb_block_load(net, o->weights) != HB_OK) ||
                hb_hybridize_with(net, hybrid, &(hb_hybrid_options){.freeze = o->freeze,
                                                                   .interpret = o->interpret}))) {
        fail("%s", hb_last_error());
        hb_block_release(net);
        return NULL;
    }
    return net;
}

/* A uniform random input: [batch, features] with the model's defaults unless --batch or
 * --features say otherwise, [features] for a model of 1-D inputs (the chain), or
 * [batch, features, H, W] for image models (features: channels). An ONNX model's inputs take
 * the shapes its file declares (--batch for a symbolic first dim, 1 for other symbolic ones):
 * float ones uniform random, integer ones 0 (a valid id) and bool ones false (no padding);
 * those after the first are bound to net. */
static hb_tensor *sample_input(const options *o, hb_block *net)
{
    hb_rng rng;
    hb_rng_seed(&rng, 1);
    if (!is_onnx(o->model))
        return example_input(example_model_find(o->model), o->batch, o->features, &rng);
    const char *names[64];
    int k = hb_onnx_inputs(net, names, 64);
    hb_tensor *x = NULL;
    for (int i = 0; i < k && i < 64; i++) {
        int64_t shape[HB_MAX_DIMS];
        hb_dtype dtype;
        int nd = hb_onnx_input_info(net, i, &dtype, shape);
        for (int d = 0; d < nd; d++) {
            if (d == 0 && (o->batch || shape[0] == 0))
                shape[0] = o->batch ? o->batch : 1;
            if (shape[d] == 0) {
                fprintf(stderr, "hybrid: note: %s leaves dim %d of input \"%s\" symbolic; 1 is "
                        "used (run --input gives a real input)\n", o->model, d, names[i]);
                shape[d] = 1;
            }
        }
        hb_tensor *t = dtype == HB_F32 ? hb_rand(nd, shape, &rng)
                                       : hb_tensor_new_typed(dtype, nd, shape);
        if (i == 0) {
            x = t;
        } else {
            hb_status st = t ? hb_onnx_bind(net, names[i], t) : hb_last_status();
            hb_tensor_release(t);
            if (st != HB_OK) {
                hb_tensor_release(x);
                return NULL;
            }
        }
    }
    return x;
}

/* ---- run ---------------------------------------------------------------------------------- */

/* names as "a, b, c" into buf */
static const char *name_list(const char *const *names, int k, char *buf, size_t size)
{
    buf[0] = '\0';
    for (int m = 0; m < k; m++)
        snprintf(buf + strlen(buf), size - strlen(buf), "%s%s", m ? ", " : "", names[m]);
    return buf;
}

/* Which of the k graph inputs value v names ("ids=ids.npy"), or -1. */
static int named_input(const char *v, const char *const *names, int k)
{
    const char *eq = strchr(v, '=');
    for (int m = 0; eq && m < k; m++)
        if (strlen(names[m]) == (size_t)(eq - v) && strncmp(names[m], v, (size_t)(eq - v)) == 0)
            return m;
    return -1;
}

/* The files of one call of a model with k graph inputs: --input values i0 .. i0+n-1, each
 * NAME=FILE (the graph input of that name) or FILE (the next one not named, in the file's
 * order), for the inputs not carried (carried[m]: filled from the call before). Loads them into
 * t[m]; false after saying what was wrong. */
static bool call_inputs(const options *o, int i0, int n, const char *const *names, int k,
                        const bool *carried, hb_tensor **t)
{
    const char *file_of[64] = {NULL};
    char list[512];
    for (int j = i0; j < i0 + n; j++) {
        const char *v = o->inputs[j];
        int m = named_input(v, names, k);
        if (m >= 0 && carried[m])
            return fail("run: graph input \"%s\" is carried (--carry) from the call before; "
                        "give it only to the first call", names[m]), false;
        if (m >= 0 && file_of[m])
            return fail("run: graph input \"%s\" is given twice for one call", names[m]), false;
        if (m >= 0)
            file_of[m] = strchr(v, '=') + 1;
        else if (strchr(v, '=') && access(v, F_OK) != 0) /* not a file either: a wrong name */
            return fail("run: %s has no graph input \"%.*s\" (its inputs: %s)", o->model,
                        (int)(strchr(v, '=') - v), v, name_list(names, k, list, sizeof list)),
                   false;
    }
    for (int j = i0, next = 0; j < i0 + n; j++) {
        if (named_input(o->inputs[j], names, k) >= 0)
            continue;
        while (next < k && (file_of[next] || carried[next]))
            next++;
        if (next < k)
            file_of[next] = o->inputs[j];
    }
    for (int m = 0; m < k; m++) {
        if (carried[m])
            continue;
        if (!file_of[m]) /* a name given twice left a gap: said above */
            return fail("run: no file for graph input \"%s\"", names[m]), false;
        if (!(t[m] = hb_npy_load(file_of[m])))
            return fail("%s", hb_last_error()), false;
    }
    return true;
}

/* One call of net on the graph inputs t (the first is x, the others bound); NULL after saying
 * what was wrong. */
static hb_tensor *call_with(hb_block *net, const char *const *names, int k, hb_tensor **t,
                            const char *first_file)
{
    for (int m = 1; m < k; m++)
        if (hb_onnx_bind(net, names[m], t[m]) != HB_OK)
            return fail("%s", hb_last_error()), NULL;
    hb_tensor *y = hb_block_call(net, t[0]);
    if (!y)
        fail("%s (input %s)", hb_last_error(), first_file);
    return y;
}

/* --carry IN=OUT: graph output OUT of each call is graph input IN of the next. Each carried
 * output has a block of its own (the model loaded again, that output selected), so each keeps
 * its plans: a model's block returns one output. */
typedef struct carry {
    int in;
    hb_block *net;
} carry;

/* The --carry values against net's graph inputs (names, k) and outputs: c[i] and carried[in]
 * filled, each carried output's block loaded; 1 after saying what was wrong. */
static int parse_carries(const options *o, hb_block *net, const char *const *names, int k,
                         carry *c, bool *carried)
{
    const char *outs[64];
    int nout = hb_onnx_outputs(net, outs, 64);
    char list[512];
    for (int i = 0; i < o->ncarries; i++) {
        const char *v = o->carries[i], *eq = strchr(v, '=');
        int in = eq ? named_input(v, names, k) : -1;
        bool known_out = false;
        for (int m = 0; eq && m < nout && m < 64; m++)
            known_out |= strcmp(outs[m], eq + 1) == 0;
        if (!eq)
            return fail("run: --carry needs INPUT=OUTPUT (a graph input and the graph output "
                        "that feeds it on the next call), not \"%s\"", v);
        if (in < 0)
            return fail("run: --carry %s: %s has no graph input \"%.*s\" (its inputs: %s)", v,
                        o->model, (int)(eq - v), v, name_list(names, k, list, sizeof list));
        if (!known_out)
            return fail("run: --carry %s: %s has no graph output \"%s\" (its outputs: %s)", v,
                        o->model, eq + 1, name_list(outs, nout < 64 ? nout : 64, list, sizeof list));
        if (carried[in])
            return fail("run: --carry %s: graph input \"%s\" is carried twice", v, names[in]);
        carried[in] = true;
        c[i].in = in;
        if (!(c[i].net = load_model(o)))
            return 1;
        if (hb_onnx_select_output(c[i].net, eq + 1) != HB_OK)
            return fail("%s", hb_last_error());
    }
    return 0;
}

static int run(int argc, char **argv)
{
    options o = {0};
    int rc = parse(argc, argv, "weights input output carry mode threads freeze interpret", &o);
    hb_block *net = rc ? NULL : load_model(&o);
    if (!rc && !net)
        rc = 1;
    if (!rc && o.ncarries && !is_onnx(o.model))
        rc = fail("run: --carry needs an ONNX model (its graph inputs and outputs have names)");
    /* a model of several graph inputs takes that many --input values for each --output */
    const char *names[64] = {"x"};
    int k = net && is_onnx(o.model) ? hb_onnx_inputs(net, names, 64) : 1;
    if (k < 1 || k > 64)
        k = 1;
    bool carried[64] = {false};
    carry *carries = calloc((size_t)o.ncarries + 1, sizeof *carries);
    if (!rc && !carries)
        rc = fail("out of memory");
    else if (!rc && o.ncarries)
        rc = parse_carries(&o, net, names, k, carries, carried);
    int c = o.ncarries, later = k - c; /* inputs of the calls after the first */
    if (!rc && (o.ninputs == 0 || o.noutputs == 0 || o.ninputs != k + (o.noutputs - 1) * later)) {
        char list[512];
        name_list(names, k, list, sizeof list);
        rc = k == 1 ? fail("run: give one --output for each --input (%s)",
                           o.ninputs ? "the counts differ" : "none given")
             : c ? fail("run: %s takes %d inputs (%s), %d of them carried: give %d --input for "
                        "the first --output and %d for each later one (%d --input, %d --output "
                        "given)", o.model, k, list, c, k, later, o.ninputs, o.noutputs)
                 : fail("run: %s takes %d inputs (%s): give %d --input for each --output "
                        "(%d --input, %d --output given)", o.model, k, list, k, o.ninputs,
                        o.noutputs);
    }
    const char *outs[2];
    if (!rc && is_onnx(o.model) && hb_onnx_outputs(net, outs, 2) > 1 && !c)
        fprintf(stderr, "hybrid: note: %s has %d graph outputs; --output gets the first, "
                "\"%s\" (hb_onnx_select_output picks another)\n", o.model,
                hb_onnx_outputs(net, NULL, 0), outs[0]);
    int calls = rc ? 0 : o.noutputs;
    hb_tensor **ys = calloc((size_t)calls + 1, sizeof *ys);
    if (!rc && !ys)
        rc = 1;
    hb_tensor *t[64] = {NULL};
    const bool none[64] = {false};
    /* Every call runs before any output is written: a bad third input leaves no files. */
    for (int i = 0, i0 = 0; !rc && i < calls; i0 += i ? later : k, i++) {
        if (!call_inputs(&o, i0, i ? later : k, names, k, i ? carried : none, t) ||
            !(ys[i] = call_with(net, names, k, t, o.inputs[i0]))) {
            rc = 1;
            break;
        }
        hb_tensor *next[64] = {NULL};
        for (int j = 0; j < c && !rc; j++)
            if (!(next[carries[j].in] = call_with(carries[j].net, names, k, t, o.inputs[i0])))
                rc = 1;
        for (int m = 0; m < k; m++) { /* the carried state replaces its input */
            hb_tensor_release(t[m]);
            t[m] = next[m];
        }
    }
    for (int m = 0; m < k; m++)
        hb_tensor_release(t[m]);
    for (int i = 0; !rc && i < calls; i++)
        if (hb_npy_save(ys[i], o.outputs[i]) != HB_OK)
            rc = fail("%s", hb_last_error());
    for (int i = 0; ys && i < calls; i++)
        hb_tensor_release(ys[i]);
    for (int j = 0; carries && j < c; j++)
        hb_block_release(carries[j].net);
    free(ys), free(carries);
    options_free(&o);
    hb_block_release(net);
    return rc;
}

/* ---- dump and explain --------------------------------------------------------------------- */

/* The optimizer --optimizer names (sgd with momentum 0.9 at lr 0.05, or adam at 1e-3; --lr
 * sets the rate), its name in *kind and learning rate in *lr; or NULL after saying what was
 * wrong. */
static hb_optimizer *make_optimizer(hb_block *net, const options *o, const char **kind,
                                    float *lr)
{
    *kind = o->optimizer ? o->optimizer : "adam";
    if (strcmp(*kind, "sgd") != 0 && strcmp(*kind, "adam") != 0) {
        fail("--optimizer must be sgd or adam, not \"%s\"", *kind);
        return NULL;
    }
    hb_optimizer_kind k = strcmp(*kind, "sgd") == 0 ? HB_OPTIM_SGD : HB_OPTIM_ADAM;
    hb_optim_options oo =
        hb_optim_defaults((float)(o->lr ? o->lr : k == HB_OPTIM_SGD ? 0.05 : 1e-3));
    if (k == HB_OPTIM_SGD)
        oo.momentum = 0.9f;
    *lr = oo.lr;
    hb_optimizer *opt = hb_optimizer_new(net, k, &oo);
    if (!opt)
        fail("%s", hb_last_error());
    return opt;
}

/* dump --train: the graph of one compiled training step on the sample input: cross-entropy
 * against labels i % C for a model with [N, C] outputs, else sum(output) (the dot loss with
 * ones), and the optimizer's update. */
static hb_status dump_training_step(hb_block *net, hb_tensor *x, const options *o)
{
    const char *kind;
    float lr;
    hb_tensor *y = hb_block_call(net, x); /* the output's shape; deferred shapes resolved */
    if (!y)
        return fail("%s", hb_last_error()), HB_ERR_ARG;
    hb_optimizer *opt = make_optimizer(net, o, &kind, &lr);
    if (!opt) {
        hb_tensor_release(y);
        return HB_ERR_ARG;
    }
    bool classes = hb_tensor_ndim(y) == 2 && hb_tensor_shape(y)[1] >= 2;
    hb_tensor *target = NULL;
    if (classes) {
        int64_t n = hb_tensor_shape(y)[0], c = hb_tensor_shape(y)[1];
        int64_t *labels = malloc(sizeof *labels * (size_t)n + 1);
        for (int64_t i = 0; labels && i < n; i++)
            labels[i] = i % c;
        target = labels ? hb_one_hot(labels, n, c) : NULL;
        free(labels);
    } else {
        target = hb_ones(hb_tensor_ndim(y), hb_tensor_shape(y));
    }
    hb_trainer *tr = target ? hb_trainer_new(net, classes ? HB_LOSS_CROSS_ENTROPY : HB_LOSS_DOT,
                                             opt, true)
                            : NULL;
    hb_status st = tr ? hb_trainer_dump(tr, x, target, o->after, stdout) : hb_last_status();
    if (st != HB_OK)
        fail("%s", hb_last_error());
    hb_trainer_free(tr);
    hb_optimizer_free(opt);
    hb_tensor_release(target), hb_tensor_release(y);
    return st;
}

static int dump(int argc, char **argv)
{
    options o = {0};
    int rc = parse(argc, argv,
                   "weights batch features after format freeze train optimizer lr interpret", &o);
    if (!rc && o.train && (strcmp(o.format, "text") != 0 || o.freeze))
        rc = fail("dump --train: %s", o.freeze ? "a training step reads live parameters; "
                  "--freeze is for inference" : "the training graph is written as text only");
    if (!rc && !o.train && (o.optimizer || o.lr))
        rc = fail("dump: --optimizer and --lr go with --train");
    if (!rc && o.train) {
        hb_block *net = load_model(&o);
        hb_tensor *x = net ? sample_input(&o, net) : NULL;
        rc = !net || !x || dump_training_step(net, x, &o) != HB_OK;
        hb_tensor_release(x);
        hb_block_release(net);
        options_free(&o);
        return rc;
    }
    hb_block *net = rc ? NULL : load_model(&o);
    hb_tensor *x = net ? sample_input(&o, net) : NULL;
    if (!rc && !net)
        rc = 1;
    if (!rc && (!x || hb_block_dump(net, x, o.after, strcmp(o.format, "dot") == 0, stdout)))
        rc = fail("%s", hb_last_error());
    hb_tensor_release(x);
    hb_block_release(net);
    options_free(&o);
    return rc;
}

/* The model traced on an input (--input X.npy, or a random one of --batch/--features) and
 * written as ONNX. */
static int export_onnx(int argc, char **argv)
{
    options o = {0};
    int rc = parse(argc, argv, "weights batch features input output", &o);
    if (!rc && (o.noutputs != 1 || o.ninputs > 1))
        rc = fail("export: needs --output MODEL.onnx (and at most one --input X.npy)");
    hb_block *net = rc ? NULL : load_model(&o);
    hb_tensor *x = !net ? NULL : o.ninputs ? hb_npy_load(o.inputs[0]) : sample_input(&o, net);
    if (!rc && !net)
        rc = 1;
    if (!rc && (!x || hb_onnx_export(net, x, o.outputs[0]) != HB_OK))
        rc = fail("%s", hb_last_error());
    if (!rc) {
        char sb[96];
        printf("%s: %s traced on input %s, written as ONNX (opset 13)\n", o.outputs[0], o.model,
               hb_shape_str(hb_tensor_ndim(x), hb_tensor_shape(x), sb, sizeof sb));
    }
    hb_tensor_release(x);
    hb_block_release(net);
    options_free(&o);
    return rc;
}

static int explain(int argc, char **argv)
{
    options o = {0};
    int rc = parse(argc, argv, "weights batch features json freeze interpret", &o);
    hb_block *net = rc ? NULL : load_model(&o);
    hb_tensor *x = net ? sample_input(&o, net) : NULL;
    if (!rc && !net)
        rc = 1;
    if (!rc && !x)
        rc = fail("%s", hb_last_error());
    /* Two calls: the first traces and compiles, the second runs what was compiled. */
    for (int i = 0; !rc && i < 2; i++) {
        hb_tensor *y = hb_block_call(net, x);
        if (!y)
            rc = fail("%s", hb_last_error());
        hb_tensor_release(y);
    }
    if (!rc)
        hb_block_explain(net, stdout, o.json);
    hb_tensor_release(x);
    hb_block_release(net);
    options_free(&o);
    return rc;
}

/* ---- grad --------------------------------------------------------------------------------- */

/* d sum(output · G) / d parameter for every trainable parameter, into a safetensors file. */
static int grad(int argc, char **argv)
{
    options o = {0};
    int rc = parse(argc, argv, "weights input output mode grad-output threads", &o);
    if (!rc && (o.ninputs != 1 || o.noutputs != 1 || !o.grad_output))
        rc = fail("grad: needs --input X.npy, --grad-output G.npy and --output GRADS.safetensors");
    hb_block *net = rc ? NULL : load_model(&o);
    hb_tensor *x = net ? hb_npy_load(o.inputs[0]) : NULL;
    hb_tensor *g = x ? hb_npy_load(o.grad_output) : NULL;
    if (!rc && (!net || !x || !g))
        rc = net ? fail("%s", hb_last_error()) : 1;
    /* One step without an optimizer: the gradients of sum(output · G) land in each grad. In
     * hybrid mode that step is a compiled plan: forward and backward together. */
    hb_trainer *tr = rc ? NULL : hb_trainer_new(net, HB_LOSS_DOT, NULL,
                                                strcmp(o.mode, "hybrid") == 0);
    float loss;
    if (!rc && (!tr || hb_train_step(tr, x, g, &loss) != HB_OK))
        rc = fail("%s", hb_last_error());
    if (!rc && getenv("HYBRID_EXPLAIN")) /* what the step compiled, for the curious */
        hb_trainer_explain(tr, stderr);
    hb_trainer_free(tr);
    hb_state_dict sd = {0};
    if (!rc && hb_block_state_dict(net, &sd) != HB_OK)
        rc = fail("%s", hb_last_error());
    const char **names = calloc((size_t)sd.count + 1, sizeof *names);
    hb_tensor **grads = calloc((size_t)sd.count + 1, sizeof *grads);
    int n = 0;
    for (int i = 0; !rc && names && grads && i < sd.count; i++) {
        if (!sd.items[i].trainable)
            continue;
        hb_tensor *gr = hb_tensor_grad(sd.items[i].value);
        grads[n] = gr ? hb_tensor_retain(gr)
                      : hb_zeros(sd.items[i].ndim, sd.items[i].shape); /* unused: zero */
        names[n++] = sd.items[i].name;
    }
    if (!rc && hb_safetensors_save(o.outputs[0], n, names, grads) != HB_OK)
        rc = fail("%s", hb_last_error());
    for (int i = 0; grads && i < n; i++)
        hb_tensor_release(grads[i]);
    free(names), free(grads);
    hb_state_dict_free(&sd);
    hb_tensor_release(g), hb_tensor_release(x);
    hb_block_release(net);
    options_free(&o);
    return rc;
}

/* ---- bench -------------------------------------------------------------------------------- */



/* Microseconds per call over n calls. */
static double time_calls(hb_block *net, hb_tensor *x, int n)
{
    double t0 = now_us();
    for (int i = 0; i < n; i++)
        hb_tensor_release(hb_block_call(net, x));
    return (now_us() - t0) / n;
}

typedef struct bench_result {
    double eager_us, compiled_us;
    int rounds, calls;
} bench_result;

/* Eager and compiled calls of the same block on the same input, in alternating rounds so that
 * drift on a shared machine hits both alike; medians of the rounds. */
static bool bench_block(hb_block *net, hb_tensor *x, int rounds, double round_us,
                        bench_result *r)
{
    hb_hybridize(net, true);
    hb_tensor *y = hb_block_call(net, x); /* trace and compile */
    if (!y)
        return false;
    hb_tensor_release(y);
    double one = time_calls(net, x, 3);
    int calls = (int)(round_us / (one > 0.05 ? one : 0.05));
    calls = calls < 1 ? 1 : calls > 200000 ? 200000 : calls;
    double eager[64], compiled[64];
    rounds = rounds > 64 ? 64 : rounds;
    for (int i = 0; i < rounds; i++) {
        hb_hybridize(net, false);
        eager[i] = time_calls(net, x, calls);
        hb_hybridize(net, true);
        compiled[i] = time_calls(net, x, calls);
    }
    *r = (bench_result){median(eager, rounds), median(compiled, rounds), rounds, calls};
    return true;
}

/* The input given as --input files: X.npy, or for an ONNX model one file per graph input (as
 * `run` takes them), those after the first bound to net. NULL after saying what was wrong. */
static hb_tensor *given_input(const options *o, hb_block *net)
{
    const char *names[64] = {"x"};
    int k = is_onnx(o->model) ? hb_onnx_inputs(net, names, 64) : 1;
    k = k < 1 || k > 64 ? 1 : k;
    if (o->ninputs != k) {
        char list[512];
        return fail("bench: %s takes %d input(s) (%s): give one --input for each (%d given)",
                    o->model, k, name_list(names, k, list, sizeof list), o->ninputs), NULL;
    }
    hb_tensor *t[64] = {NULL};
    const bool none[64] = {false};
    bool ok = call_inputs(o, 0, k, names, k, none, t);
    for (int m = 1; m < k; m++) {
        if (ok && hb_onnx_bind(net, names[m], t[m]) != HB_OK)
            ok = fail("%s", hb_last_error()) == 0;
        hb_tensor_release(t[m]);
    }
    if (!ok)
        hb_tensor_release(t[0]);
    return ok ? t[0] : NULL;
}

static int bench(int argc, char **argv)
{
    options o = {0};
    int rc = parse(argc, argv, "weights batch features input json threads freeze interpret", &o);
    hb_block *net = rc ? NULL : load_model(&o);
    hb_tensor *x = !net ? NULL : o.ninputs ? given_input(&o, net) : sample_input(&o, net);
    bench_result r = {0};
    if (!rc && (!net || (o.ninputs && !x)))
        rc = 1;
    if (!rc && (!x || !bench_block(net, x, 21, 20000, &r)))
        rc = fail("%s", hb_last_error());
    char sb[96];
    int nd = x ? hb_tensor_ndim(x) : 0;
    hb_shape_str(nd, hb_tensor_shape(x), sb, sizeof sb);
    /* 1-D inputs are one sample; images are [batch, channels (features), H, W] */
    long long batch = nd >= 2 ? (long long)hb_tensor_dim(x, 0) : 1;
    long long features = nd == 4 ? (long long)hb_tensor_dim(x, 1)
                                 : x ? (long long)hb_tensor_dim(x, -1) : 0;
    if (!rc && o.json)
        printf("{\"model\": \"%s\", \"batch\": %lld, \"features\": %lld, \"input\": \"%s\", "
               "\"eager_us\": %.3f, \"compiled_us\": %.3f, \"speedup\": %.3f, \"rounds\": %d, "
               "\"calls_per_round\": %d, \"gemm\": \"%s\"}\n",
               o.model, batch, features, sb, r.eager_us, r.compiled_us,
               r.eager_us / r.compiled_us, r.rounds, r.calls, hb_gemm_kernels());
    else if (!rc)
        printf("%s, input %s: eager %.2f us/call, compiled %.2f us/call, speed-up %.2fx\n"
               "(medians of %d alternating rounds of %d calls each, one process; GEMMs: %s)\n",
               o.model, input_str(x, (char[128]){0}, 128), r.eager_us, r.compiled_us, r.eager_us / r.compiled_us, r.rounds,
               r.calls, hb_gemm_kernels());
    hb_tensor_release(x);
    hb_block_release(net);
    options_free(&o);
    return rc;
}

/* ---- demo --------------------------------------------------------------------------------- */

/* max |a - b| / max |b|: how far a hybrid result is from the eager one. */
static double rel_diff(hb_tensor *a, hb_tensor *b)
{
    const float *x = hb_tensor_cdata(a), *y = hb_tensor_cdata(b);
    double worst = 0, scale = 0;
    for (int64_t i = 0; i < hb_tensor_numel(b); i++)
        scale = fmax(scale, fabs(y[i]));
    for (int64_t i = 0; i < hb_tensor_numel(b); i++)
        worst = fmax(worst, fabs((double)x[i] - y[i]) / fmax(scale, 1e-30));
    return worst;
}

/* One model of the chapter: eager, then hybridized on the same inputs and a scaled one (for
 * fixed-hidden, a different number of halvings), with what was compiled and the speed. */
/* ---- train: a synthetic classification task ---------------------------------------------- */

/* n points in f dims from c Gaussian clusters (unit spread around centres drawn once from
 * N(0, 1) per dim, so they sit about sqrt(2f) apart), label = cluster; seeded, so every run
 * sees the same set. */
static hb_tensor *mixture(hb_rng *rng, const float *centres, int64_t n, int64_t f, int64_t c,
                          int64_t *labels)
{
    hb_tensor *x = hb_tensor_new(HB_SHAPE(n, f));
    float *d = x ? hb_tensor_data(x) : NULL;
    for (int64_t i = 0; d && i < n; i++) {
        labels[i] = (int64_t)(hb_rng_next(rng) % (uint64_t)c);
        for (int64_t j = 0; j < f; j++)
            d[i * f + j] = centres[labels[i] * f + j] + hb_rng_normal(rng);
    }
    return x;
}

static double accuracy(hb_tensor *logits, const int64_t *labels)
{
    const float *z = hb_tensor_cdata(logits);
    int64_t n = hb_tensor_shape(logits)[0], c = hb_tensor_shape(logits)[1], right = 0;
    for (int64_t i = 0; i < n; i++) {
        int64_t best = 0;
        for (int64_t k = 1; k < c; k++)
            best = z[i * c + k] > z[i * c + best] ? k : best;
        right += best == labels[i];
    }
    return (double)right / (double)n;
}

/* The per-step losses as a polyline, log-scaled when they span more than a decade; written
 * next to path and renamed, so a failure leaves no partial file. */
static bool write_svg(const char *path, const char *title, const float *loss, int n)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) {
        errno = ENAMETOOLONG;
        return false;
    }
    FILE *f = fopen(tmp, "w");
    if (!f)
        return false;
    float lo = loss[0], hi = loss[0];
    for (int i = 1; i < n; i++)
        lo = fminf(lo, loss[i]), hi = fmaxf(hi, loss[i]);
    bool logy = lo > 0 && hi / lo > 10;
    double a = logy ? log10(lo) : 0, b = logy ? log10(hi) : hi;
    const double w = 640, h = 360, m = 48;
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%g\" height=\"%g\" "
               "font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%%\" "
               "height=\"100%%\" fill=\"white\"/>\n<text x=\"%g\" y=\"20\">%s</text>\n",
            w, h, m, title);
    fprintf(f, "<path d=\"M%g %g V%g H%g\" stroke=\"black\" fill=\"none\"/>\n", m, m / 2, h - m,
            w - m / 2);
    fprintf(f, "<text x=\"4\" y=\"%g\">%.3g</text><text x=\"4\" y=\"%g\">%.3g</text>\n",
            m / 2 + 4, hi, h - m, logy ? lo : 0.0);
    fprintf(f, "<text x=\"%g\" y=\"%g\">step (%d)%s</text>\n", w / 2 - 30, h - 12, n,
            logy ? ", loss on a log scale" : "");
    fputs("<polyline fill=\"none\" stroke=\"#1f77b4\" points=\"", f);
    for (int i = 0; i < n; i++) {
        double v = logy ? log10(loss[i]) : loss[i];
        double t = b > a ? (v - a) / (b - a) : 0.5;
        fprintf(f, "%.1f,%.1f ", m + (w - 1.5 * m) * i / (n > 1 ? n - 1 : 1),
                (h - m) - t * (h - 1.5 * m));
    }
    fputs("\"/>\n</svg>\n", f);
    bool ok = !ferror(f);
    ok = fclose(f) == 0 && ok && rename(tmp, path) == 0;
    if (!ok) {
        int saved = errno;
        remove(tmp);
        errno = saved;
    }
    return ok;
}

static int train(int argc, char **argv)
{
    options o = {0};
    int rc = parse(argc, argv, "weights mode batch epochs optimizer lr svg threads", &o);
    const char *kind = o.optimizer ? o.optimizer : "adam";
    float lr = 0;
    if (!rc && strcmp(kind, "sgd") != 0 && strcmp(kind, "adam") != 0)
        rc = fail("--optimizer must be sgd or adam, not \"%s\"", kind); /* before any work */
    const model_entry *e = rc ? NULL : example_model_find(o.model);
    hb_block *net = rc ? NULL : load_model(&o);
    if (!net) {
        options_free(&o);
        return 1;
    }
    int64_t f = e->features, batch = o.batch ? o.batch : 64, epochs = o.epochs ? o.epochs : 10;
    int64_t ntrain = 2048, ntest = 512, c = 0;
    /* the class count is the model's output width */
    hb_rng rng;
    hb_rng_seed(&rng, 7);
    hb_tensor *probe = e->batch && !e->image && !e->vocab ? hb_rand(HB_SHAPE(2, f), &rng) : NULL;
    hb_tensor *py = probe ? hb_block_call(net, probe) : NULL;
    if (!py)
        rc = fail("train: %s", e->image ? "the model takes images; hybrid train makes "
                  "[batch, features] data (train image models from C, with hb_train_step)"
                  : e->vocab ? "the model takes token ids; hybrid train makes [batch, features] "
                               "float data (train it from C, with hb_train_step)"
                  : e->batch ? hb_last_error() : "the model takes 1-D inputs, not batches");
    else if (hb_tensor_ndim(py) != 2 || hb_tensor_shape(py)[1] < 2)
        rc = fail("train: %s's output has shape %s; training needs [batch, classes >= 2]",
                  o.model, hb_shape_str(hb_tensor_ndim(py), hb_tensor_shape(py), (char[96]){0}, 96));
    else
        c = hb_tensor_shape(py)[1];
    hb_tensor_release(probe), hb_tensor_release(py);
    float *centres = malloc(sizeof(float) * (size_t)(c * f + 1));
    int64_t *labels = malloc(sizeof(int64_t) * (size_t)(ntrain + ntest));
    int64_t steps_per_epoch = (ntrain + batch - 1) / batch, nsteps = 0;
    float *curve = malloc(sizeof(float) * (size_t)(steps_per_epoch * epochs));
    hb_tensor *xtrain = NULL, *xtest = NULL, *ttrain = NULL;
    if (!rc && (!centres || !labels || !curve))
        rc = fail("out of memory");
    if (!rc) {
        for (int64_t i = 0; i < c * f; i++)
            centres[i] = hb_rng_normal(&rng);
        xtrain = mixture(&rng, centres, ntrain, f, c, labels);
        xtest = mixture(&rng, centres, ntest, f, c, labels + ntrain);
        ttrain = hb_one_hot(labels, ntrain, c);
    }
    hb_optimizer *opt = rc || !xtrain || !xtest || !ttrain ? NULL
                                                          : make_optimizer(net, &o, &kind, &lr);
    bool compiled = strcmp(o.mode, "hybrid") == 0;
    hb_trainer *trainer = opt ? hb_trainer_new(net, HB_LOSS_CROSS_ENTROPY, opt, compiled) : NULL;
    if (!rc && opt && !trainer)
        rc = fail("train: %s", hb_last_error());
    else if (!rc && !opt)
        rc = 1; /* make_optimizer said why */
    if (!rc)
        printf("training %s (%lld parameter tensors) on a %lld-class Gaussian mixture in %lld dims: "
               "%lld train, %lld test, batch %lld, %s lr %g, %s steps\n",
               o.model, (long long)hb_optimizer_num_params(opt), (long long)c, (long long)f,
               (long long)ntrain, (long long)ntest, (long long)batch, kind, lr,
               compiled ? "compiled" : "eager");
    double test_acc = 0;
    for (int64_t ep = 0; !rc && ep < epochs; ep++) {
        double t0 = now_us(), sum = 0;
        for (int64_t s0 = 0; !rc && s0 < ntrain; s0 += batch) {
            int64_t n = s0 + batch <= ntrain ? batch : ntrain - s0;
            hb_tensor *xb = hb_slice(xtrain, 0, s0, n), *tb = hb_slice(ttrain, 0, s0, n);
            float loss;
            if (!xb || !tb || hb_train_step(trainer, xb, tb, &loss) != HB_OK)
                rc = fail("train: step %lld: %s", (long long)nsteps, hb_last_error());
            if (!rc) {
                curve[nsteps++] = loss;
                sum += loss * (double)n;
            }
            hb_tensor_release(xb), hb_tensor_release(tb);
        }
        if (rc)
            break;
        double secs = (now_us() - t0) / 1e6;
        hb_tensor *ztr = hb_block_call(net, xtrain), *zte = hb_block_call(net, xtest);
        if (!ztr || !zte)
            rc = fail("train: %s", hb_last_error());
        else {
            test_acc = accuracy(zte, labels + ntrain);
            printf("epoch %lld/%lld  loss %.4f  accuracy %.1f%% (test %.1f%%)  %.0f steps/s\n",
                   (long long)ep + 1, (long long)epochs, sum / (double)ntrain,
                   100 * accuracy(ztr, labels), 100 * test_acc, (double)steps_per_epoch / secs);
            fflush(stdout);
        }
        hb_tensor_release(ztr), hb_tensor_release(zte);
    }
    if (!rc && o.svg) {
        char title[128];
        snprintf(title, sizeof title, "hybrid train %s: cross-entropy per step (%s)", o.model, kind);
        if (!write_svg(o.svg, title, curve, (int)nsteps))
            rc = fail("cannot write %s: %s", o.svg, strerror(errno));
        else
            printf("loss curve: %s\n", o.svg);
    }
    if (!rc && compiled)
        hb_trainer_explain(trainer, stdout);
    hb_trainer_free(trainer);
    hb_optimizer_free(opt);
    hb_tensor_release(xtrain), hb_tensor_release(xtest), hb_tensor_release(ttrain);
    free(centres), free(labels), free(curve);
    hb_block_release(net);
    options_free(&o);
    return rc ? 1 : 0;
}

static bool demo_model(const model_entry *e)
{
    char sb[128], ob[96];
    hb_block *net = example_model_new(e->name, 0);
    hb_rng rng;
    hb_rng_seed(&rng, 1);
    hb_tensor *x = example_input(e, 2, 0, &rng);
    /* a second input: 1000·x, which takes loops and branches other ways; other ids */
    hb_tensor *xs = e->vocab ? example_input(e, 2, 0, &rng) : hb_mul_scalar(x, 1000.0f);
    hb_tensor *y = net ? hb_block_call(net, x) : NULL, *ys = y ? hb_block_call(net, xs) : NULL;
    printf("== %s: %s\n", e->name, e->about);
    bool ok = ys != NULL;
    if (ok) {
        hb_block_print(stdout, net);
        printf("input %s -> output %s\n", input_str(x, sb, sizeof sb),
               hb_shape_str(hb_tensor_ndim(y), hb_tensor_shape(y), ob, sizeof ob));
        hb_tensor_print(stdout, y);
        hb_hybridize(net, true);
        hb_tensor *h1 = hb_block_call(net, x), *h2 = hb_block_call(net, x);
        hb_tensor *h3 = hb_block_call(net, xs);
        ok = h1 && h2 && h3;
        if (ok) {
            printf("hybridized (first call traced, then the plan ran):\n");
            hb_block_explain(net, stdout, false);
            double d = fmax(fmax(rel_diff(h1, y), rel_diff(h2, y)), rel_diff(h3, ys));
            printf("hybrid == eager on x, x again and %s: max relative difference %.1g\n",
                   e->vocab ? "other ids" : "1000·x", d);
            bench_result r;
            if (bench_block(net, x, 7, 2000, &r))
                printf("per call: eager %.2f us, hybrid %.2f us (%.2fx)\n", r.eager_us,
                       r.compiled_us, r.eager_us / r.compiled_us);
            ok = d <= 1e-5;
        }
        hb_tensor_release(h1), hb_tensor_release(h2), hb_tensor_release(h3);
    }
    if (!ok)
        printf("   failed: %s\n", hb_last_error());
    putchar('\n');
    hb_tensor_release(y), hb_tensor_release(ys), hb_tensor_release(xs), hb_tensor_release(x);
    hb_block_release(net);
    return ok;
}

/* The models of one part (the seed chapter's, or the later chapters'), each eager then
 * hybridized, and a line that counts them; the number that failed. */
static int demo_part(bool later)
{
    int failures = 0, shown = 0;
    for (int i = 0; i < example_model_count; i++)
        if (later ? example_models[i].later : example_models[i].chapter) {
            failures += !demo_model(&example_models[i]);
            shown++;
        }
    printf("%d %s ran eagerly and hybridized with equal results, %d failed.\n", shown - failures,
           later ? "models of later chapters" : "models", failures);
    return failures;
}

static int demo(void)
{
    printf("hybrid %s: the seed chapter (D2L 5.1, Layers and Blocks), eager and hybridized\n\n",
           HB_VERSION);
    int failures = demo_part(false);
    printf("\nD2L's later chapters, as blocks: a transformer encoder and an LSTM over token ids\n\n");
    failures += demo_part(true);
    return failures ? 1 : 0;
}

int main(int argc, char **argv)
{
    const char *cmd = argc > 1 ? argv[1] : "help";
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        fputs(usage, stdout);
        return argc > 1 ? 0 : EXIT_USAGE;
    }
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0)
        return printf("hybrid %s\n", HB_VERSION) < 0;
    if (strcmp(cmd, "demo") == 0)
        return demo();
    if (strcmp(cmd, "models") == 0)
        return list_models();
    if (strcmp(cmd, "run") == 0)
        return run(argc, argv);
    if (strcmp(cmd, "dump") == 0)
        return dump(argc, argv);
    if (strcmp(cmd, "export") == 0)
        return export_onnx(argc, argv);
    if (strcmp(cmd, "explain") == 0)
        return explain(argc, argv);
    if (strcmp(cmd, "bench") == 0)
        return bench(argc, argv);
    if (strcmp(cmd, "grad") == 0)
        return grad(argc, argv);
    if (strcmp(cmd, "train") == 0)
        return train(argc, argv);
    fprintf(stderr, "hybrid: unknown command \"%s\"\n%s", cmd, usage);
    return EXIT_USAGE;
}
