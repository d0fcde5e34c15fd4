/* The ONNX backend test data Debian ships (libonnx-testdata) through hybrid's importer: every
 * case whose model loads runs each of its test data sets eagerly and compiled (hybridized:
 * trace, then plan) against the expected outputs (each graph output selected in turn), |got − want| <= 1e-5 + 1e-3·|want| (the
 * backend tests' own tolerance is 1e-3 relative, 1e-7 absolute; float32 sums here round
 * otherwise). A model that does not load because hybrid lacks an op, an attribute or a data
 * type is skipped as unsupported; one that loads and then fails, or gives other numbers, is a
 * failure — a bug, unless the call refused an op over a dtype hybrid does not compute in (a
 * skip, counted with its reason). Prints passed / failed / skipped per directory, and with -v each failure
 * and the reasons for skipping, most common first.
 *
 * Run: build/onnx_conformance [-v] [DATA_DIR]   (default /usr/share/libonnx-testdata/data)
 * Exit status: 0 if nothing failed, 1 otherwise, 77 if the data is not installed. */
#include <hybrid.h>

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *const dirs[] = {"node", "pytorch-converted", "pytorch-operator", "simple"};

typedef struct reason {
    char text[160];
    int count;
} reason;

static reason reasons[512];
static int nreasons;

/* The part of a load error worth counting: what hybrid lacks, without the node's name. */
static void count_reason(const char *msg)
{
    const char *p = strstr(msg, "opset");
    const char *what = p && (p = strchr(p, ':')) ? p + 2 : msg;
    const char *path_end = strstr(what, ".onnx: ");
    if (path_end)
        what = path_end + 7;
    for (int i = 0; i < nreasons; i++)
        if (strncmp(reasons[i].text, what, sizeof reasons[i].text - 1) == 0) {
            reasons[i].count++;
            return;
        }
    if (nreasons < (int)(sizeof reasons / sizeof reasons[0])) {
        snprintf(reasons[nreasons].text, sizeof reasons[nreasons].text, "%s", what);
        reasons[nreasons++].count = 1;
    }
}

static bool close_floats(const float *a, const float *b, int64_t n, double *worst);

static bool is_float(hb_dtype d) { return d == HB_F32 || d == HB_F64 || d == HB_F16 || d == HB_BF16; }

/* Floats within the tolerance (compared as float32); integers and bool exactly, of one dtype. */
static bool close_enough(hb_tensor *got, hb_tensor *want, double *worst)
{
    if (!got || !hb_tensor_same_shape(got, want) || hb_tensor_dtype(got) != hb_tensor_dtype(want))
        return false;
    *worst = 0;
    if (!is_float(hb_tensor_dtype(want)))
        return memcmp(hb_tensor_raw(got), hb_tensor_raw(want),
                      hb_dtype_size(hb_tensor_dtype(want)) * (size_t)hb_tensor_numel(want)) == 0;
    hb_tensor *fa = hb_cast(got, HB_F32), *fb = hb_cast(want, HB_F32);
    bool ok = fa && fb && close_floats(hb_tensor_cdata(fa), hb_tensor_cdata(fb),
                                       hb_tensor_numel(want), worst);
    hb_tensor_release(fa), hb_tensor_release(fb);
    return ok;
}

static bool close_floats(const float *a, const float *b, int64_t n, double *worst)
{
    for (int64_t i = 0; i < n; i++) {
        if (isnan(b[i]) ? !isnan(a[i]) : (a[i] != b[i] &&
                                          !(fabs((double)a[i] - b[i]) <= 1e-5 + 1e-3 * fabs(b[i]))))
            return false;
        double d = fabs((double)a[i] - b[i]);
        *worst = d > *worst ? d : *worst;
    }
    return true;
}

/* One test data set: inputs bound, eager then compiled; NULL if it passed, else why, with
 * *unsupported set if the eager call refused something hybrid does not do (an op over a
 * dtype it lacks: a skip, as a model that does not load). */
static const char *run_set(const char *model_path, const char *set, char *why, size_t size,
                           bool *unsupported)
{
    hb_block *nets[2] = {hb_onnx_load(model_path), hb_onnx_load(model_path)};
    const char *names[64], *outs[64];
    int ninputs = nets[0] ? hb_onnx_inputs(nets[0], names, 64) : 0;
    int noutputs = nets[0] ? hb_onnx_outputs(nets[0], outs, 64) : 0;
    hb_tensor *x = NULL;
    char path[1200];
    const char *result = NULL;
    if (!nets[0] || !nets[1]) {
        snprintf(why, size, "%s", hb_last_error());
        result = why;
    }
    for (int i = 0; !result && i < ninputs && i < 64; i++) {
        snprintf(path, sizeof path, "%s/input_%d.pb", set, i);
        hb_tensor *t = hb_onnx_tensor_load(path);
        if (!t) {
            snprintf(why, size, "%s", hb_last_error());
            result = why;
        } else if (i == 0) {
            x = t;
        } else {
            for (int k = 0; k < 2; k++)
                hb_onnx_bind(nets[k], names[i], t);
            hb_tensor_release(t);
        }
    }
    if (!result)
        hb_hybridize(nets[1], true);
    /* each graph output in turn: the block returns the one selected */
    for (int o = 0; !result && o < noutputs && o < 64; o++) {
        snprintf(path, sizeof path, "%s/output_%d.pb", set, o);
        hb_tensor *want = hb_onnx_tensor_load(path);
        if (!want) {
            snprintf(why, size, "%s", hb_last_error());
            result = why;
            break;
        }
        for (int k = 0; o > 0 && k < 2; k++)
            hb_onnx_select_output(nets[k], outs[o]);
        for (int k = 0; !result && k < 2; k++)
            for (int call = 0; !result && call < (k ? 2 : 1); call++) {
                hb_tensor *y = hb_block_call(nets[k], x);
                double worst = 0;
                if (!y && k == 0 && hb_last_status() == HB_ERR_UNSUPPORTED)
                    *unsupported = true, snprintf(why, size, "%s", hb_last_error());
                else if (!y)
                    snprintf(why, size, "%s: %s", k ? "compiled" : "eager", hb_last_error());
                else if (!close_enough(y, want, &worst)) {
                    char a[96], b[96];
                    snprintf(why, size, "output %d, %s call %d: %s against %s: values differ", o,
                             k ? "compiled" : "eager", call + 1,
                             hb_shape_str(hb_tensor_ndim(y), hb_tensor_shape(y), a, sizeof a),
                             hb_shape_str(hb_tensor_ndim(want), hb_tensor_shape(want), b,
                                          sizeof b));
                }
                if (!y || !close_enough(y, want, &worst))
                    result = why;
                hb_tensor_release(y);
            }
        hb_tensor_release(want);
    }
    hb_tensor_release(x);
    hb_block_release(nets[0]), hb_block_release(nets[1]);
    return result;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv)
{
    bool verbose = false;
    const char *root = "/usr/share/libonnx-testdata/data";
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-v") == 0)
            verbose = true;
        else
            root = argv[i];
    }
    struct stat st;
    if (stat(root, &st) != 0) {
        fprintf(stderr, "onnx_conformance: no test data at %s (Debian: libonnx-testdata)\n", root);
        return 77;
    }
    int total_failed = 0;
    printf("%-20s %7s %7s %8s %6s\n", "directory", "passed", "failed", "skipped", "cases");
    for (size_t d = 0; d < sizeof dirs / sizeof dirs[0]; d++) {
        char dir[600];
        snprintf(dir, sizeof dir, "%s/%s", root, dirs[d]);
        DIR *dp = opendir(dir);
        if (!dp)
            continue;
        char *cases[2048];
        int ncases = 0;
        for (struct dirent *e; (e = readdir(dp)) && ncases < 2048;)
            if (e->d_name[0] != '.')
                cases[ncases++] = strdup(e->d_name);
        closedir(dp);
        qsort(cases, (size_t)ncases, sizeof *cases, by_name);
        int passed = 0, failed = 0, skipped = 0;
        for (int c = 0; c < ncases; c++) {
            char model_path[900];
            snprintf(model_path, sizeof model_path, "%s/%s/model.onnx", dir, cases[c]);
            hb_block *probe = hb_onnx_load(model_path);
            if (!probe) {
                hb_status s = hb_last_status();
                if (s == HB_ERR_UNSUPPORTED) {
                    skipped++;
                    count_reason(hb_last_error());
                } else {
                    failed++;
                    if (verbose)
                        printf("  FAIL %s/%s: %s\n", dirs[d], cases[c], hb_last_error());
                }
                hb_clear_error();
                free(cases[c]);
                continue;
            }
            hb_block_release(probe);
            bool ok = true, unsupported = false;
            int sets = 0;
            for (int k = 0; ok; k++, sets++) {
                char set[1000];
                snprintf(set, sizeof set, "%s/%s/test_data_set_%d", dir, cases[c], k);
                if (stat(set, &st) != 0)
                    break;
                char why[600];
                const char *r = run_set(model_path, set, why, sizeof why, &unsupported);
                if (r && unsupported) {
                    count_reason(r);
                    break;
                }
                if (r) {
                    ok = false;
                    if (verbose)
                        printf("  FAIL %s/%s set %d: %s\n", dirs[d], cases[c], k, r);
                }
                hb_clear_error();
            }
            if (unsupported)
                skipped++;
            else if (ok && sets > 0)
                passed++;
            else if (ok) {
                skipped++;
                count_reason("no test data sets");
            } else
                failed++;
            free(cases[c]);
        }
        printf("%-20s %7d %7d %8d %6d\n", dirs[d], passed, failed, skipped, ncases);
        total_failed += failed;
    }
    if (verbose && nreasons) {
        printf("\nskipped as unsupported, most common first:\n");
        for (int i = 0; i < nreasons; i++)
            for (int j = i + 1; j < nreasons; j++)
                if (reasons[j].count > reasons[i].count) {
                    reason t = reasons[i];
                    reasons[i] = reasons[j], reasons[j] = t;
                }
        for (int i = 0; i < nreasons; i++)
            printf("%5d  %s\n", reasons[i].count, reasons[i].text);
    }
    return total_failed ? 1 : 0;
}
