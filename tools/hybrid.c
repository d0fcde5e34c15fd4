/* The `hybrid` command (spec/cli.md): the seed chapter's models from the shell. Every failure
 * ends in one line on stderr naming what was wrong and a non-zero status, and no output file is
 * written unless every input ran. */
#include "models.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

enum { EXIT_USAGE = 2 };

static const char usage[] =
    "usage: hybrid COMMAND [options]\n"
    "\n"
    "commands:\n"
    "  demo                      the seed chapter end to end: every model, its blocks, output\n"
    "                            shape and values\n"
    "  run MODEL [--weights W.safetensors] --input X.npy --output Y.npy\n"
    "            [--input X2.npy --output Y2.npy ...] [--mode eager|hybrid] [--threads N]\n"
    "                            one block instance runs each input in order\n"
    "  models                    the models this build knows\n"
    "  help                      this text\n"
    "\n"
    "MODEL is one of the names `hybrid models` lists. Without --weights the model is initialized\n"
    "from seed 0. Coming next (see the issues): --mode hybrid, dump, explain, bench, grad.\n";

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
    for (int i = 0; i < example_model_count; i++)
        printf("%-14s %s\n", example_models[i].name, example_models[i].about);
    return 0;
}

static hb_block *make_model(const char *name)
{
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

/* ---- demo --------------------------------------------------------------------------------- */

static int demo(void)
{
    printf("hybrid %s: the seed chapter (D2L 5.1, Layers and Blocks), eager\n\n", HB_VERSION);
    int failures = 0;
    for (int i = 0; i < example_model_count; i++) {
        const model_entry *e = &example_models[i];
        hb_block *net = example_model_new(e->name, 0);
        hb_rng rng;
        hb_rng_seed(&rng, 1);
        hb_tensor *x = hb_rand(HB_SHAPE(2, e->features), &rng);
        hb_tensor *y = net ? hb_block_call(net, x) : NULL;
        char sb[96];
        printf("== %s: %s\n", e->name, e->about);
        if (!y) {
            printf("   failed: %s\n\n", hb_last_error());
            failures++;
        } else {
            hb_block_print(stdout, net);
            printf("input %s -> output %s\n",
                   hb_shape_str(hb_tensor_ndim(x), hb_tensor_shape(x), sb, sizeof sb),
                   hb_shape_str(hb_tensor_ndim(y), hb_tensor_shape(y), (char[96]){0}, 96));
            hb_tensor_print(stdout, y);
            putchar('\n');
        }
        hb_tensor_release(y);
        hb_tensor_release(x);
        hb_block_release(net);
    }
    printf("%d models ran eagerly, %d failed.\n", example_model_count - failures, failures);
    return failures ? 1 : 0;
}

/* ---- run ---------------------------------------------------------------------------------- */

typedef struct run_args {
    const char *model, *weights, *mode;
    const char **inputs, **outputs;
    int ninputs, noutputs, threads;
} run_args;

static int parse_run(int argc, char **argv, run_args *a)
{
    a->inputs = calloc((size_t)argc, sizeof *a->inputs);
    a->outputs = calloc((size_t)argc, sizeof *a->outputs);
    a->mode = "eager";
    if (!a->inputs || !a->outputs)
        return fail("out of memory");
    for (int i = 2; i < argc; i++) {
        const char *opt = argv[i];
        bool takes_value = strncmp(opt, "--", 2) == 0;
        if (takes_value && i + 1 >= argc)
            return fail("option %s needs a value", opt);
        if (strcmp(opt, "--weights") == 0)
            a->weights = argv[++i];
        else if (strcmp(opt, "--input") == 0)
            a->inputs[a->ninputs++] = argv[++i];
        else if (strcmp(opt, "--output") == 0)
            a->outputs[a->noutputs++] = argv[++i];
        else if (strcmp(opt, "--mode") == 0)
            a->mode = argv[++i];
        else if (strcmp(opt, "--threads") == 0) {
            char *end;
            long n = strtol(argv[++i], &end, 10);
            if (*end || n < 1 || n > 1024)
                return fail("--threads needs a count from 1 to 1024, not \"%s\"", argv[i]);
            a->threads = (int)n;
        } else if (!takes_value && !a->model)
            a->model = opt;
        else
            return fail("run: unexpected argument \"%s\" (see hybrid help)", opt);
    }
    if (!a->model)
        return fail("run: which model? (hybrid run MODEL --input X.npy --output Y.npy)");
    if (a->ninputs == 0 || a->ninputs != a->noutputs)
        return fail("run: give one --output for each --input (%s)",
                    a->ninputs ? "the counts differ" : "none given");
    if (strcmp(a->mode, "eager") != 0) {
        if (strcmp(a->mode, "hybrid") == 0)
            return fail("run: --mode hybrid is not built yet in this version (tracing and "
                        "plans come with the hybridize issue); use --mode eager");
        return fail("run: --mode must be eager or hybrid, not \"%s\"", a->mode);
    }
    return 0;
}

static int run(int argc, char **argv)
{
    run_args a = {0};
    int rc = parse_run(argc, argv, &a);
    hb_block *net = rc ? NULL : make_model(a.model);
    hb_tensor **ys = calloc((size_t)a.ninputs + 1, sizeof *ys);
    if (!rc && (!net || !ys))
        rc = 1;
    if (!rc && a.threads)
        hb_set_num_threads(a.threads);
    if (!rc && a.weights && hb_block_load(net, a.weights) != HB_OK)
        rc = fail("%s", hb_last_error());
    /* Every input runs before any output is written: a bad third input leaves no files. */
    for (int i = 0; !rc && i < a.ninputs; i++) {
        hb_tensor *x = hb_npy_load(a.inputs[i]);
        if (!x) {
            rc = fail("%s", hb_last_error());
            break;
        }
        if (!(ys[i] = hb_block_call(net, x)))
            rc = fail("%s (input %s)", hb_last_error(), a.inputs[i]);
        hb_tensor_release(x);
    }
    for (int i = 0; !rc && i < a.ninputs; i++)
        if (hb_npy_save(ys[i], a.outputs[i]) != HB_OK)
            rc = fail("%s", hb_last_error());
    for (int i = 0; ys && i < a.ninputs; i++)
        hb_tensor_release(ys[i]);
    free(ys);
    free(a.inputs);
    free(a.outputs);
    hb_block_release(net);
    return rc;
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
    if (!strcmp(cmd, "dump") || !strcmp(cmd, "explain") || !strcmp(cmd, "bench") ||
        !strcmp(cmd, "grad"))
        return fail("'%s' is not built yet in this version (see hybrid help)", cmd);
    fprintf(stderr, "hybrid: unknown command \"%s\"\n%s", cmd, usage);
    return EXIT_USAGE;
}
