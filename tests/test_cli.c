/* The command line as users and outside checks run it (docs/cli.md): exit status, one clear
 * line on stderr for every bad input, and no output file unless everything ran. */
#include "harness.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static char out_text[1 << 16], err_text[1 << 12];

static void slurp(const char *path, char *buf, size_t size)
{
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(buf, 1, size - 1, f) : 0;
    buf[n] = '\0';
    if (f)
        fclose(f);
}

/* Runs `hybrid ARGS` (ARGS a printf format); returns the exit status. */
static int hybrid(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int hybrid(const char *fmt, ...)
{
    char args[2048], cmd[4096], out[512], err[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    const char *exe = getenv("HYBRID_EXE");
    snprintf(out, sizeof out, "%s", temp_path("stdout"));
    snprintf(err, sizeof err, "%s", temp_path("stderr"));
    snprintf(cmd, sizeof cmd, "'%s' %s >'%s' 2>'%s'", exe ? exe : "build/hybrid", args, out, err);
    int st = system(cmd);
    slurp(out, out_text, sizeof out_text);
    slurp(err, err_text, sizeof err_text);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

static int count_lines(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

/* A failure: non-zero status, exactly one line on stderr, containing each of the words. */
static void assert_fails_with(int status, const char *w1, const char *w2)
{
    ck_assert_int_ne(status, 0);
    ck_assert_msg(count_lines(err_text) == 1, "stderr should be one line: %s", err_text);
    ck_assert_msg(strstr(err_text, w1), "stderr lacks \"%s\": %s", w1, err_text);
    ck_assert_msg(!w2 || strstr(err_text, w2), "stderr lacks \"%s\": %s", w2, err_text);
}

static bool exists(const char *path) { return access(path, F_OK) == 0; }

START_TEST(run_matches_pytorch)
{
    char y[512], y2[512];
    snprintf(y, sizeof y, "%s", temp_path("y.npy"));
    snprintf(y2, sizeof y2, "%s", temp_path("y2.npy"));
    int st = hybrid("run mlp --weights %s --input %s --output %s --input %s --output %s "
                    "--mode eager --threads 1",
                    data_path("mlp/weights.safetensors"), data_path("mlp/input.npy"), y,
                    data_path("mlp/input.npy"), y2);
    ck_assert_msg(st == 0, "%s", err_text);
    hb_tensor *got = hb_npy_load(y), *got2 = hb_npy_load(y2);
    hb_tensor *want = hb_npy_load(data_path("mlp/output.npy"));
    ck_assert_double_le(rel_error(got, want), 1e-4);
    ck_assert_double_le(rel_error(got2, want), 1e-4);
    hb_tensor_release(got), hb_tensor_release(got2), hb_tensor_release(want);
    unlink(y), unlink(y2);
}
END_TEST

/* resnet-mini reproduces its fixture eagerly, hybridized (trace, then plan) and frozen; a wrong
 * input shape names the layer and both shapes; train refuses image models with a reason. */
START_TEST(run_resnet_mini)
{
    const char *modes[] = {"--mode eager", "--mode hybrid", "--mode hybrid --freeze"};
    for (int m = 0; m < 3; m++) {
        char y[512], y2[512];
        snprintf(y, sizeof y, "%s", temp_path("rn.npy"));
        snprintf(y2, sizeof y2, "%s", temp_path("rn2.npy"));
        int st = hybrid("run resnet-mini --weights %s --input %s --output %s --input %s "
                        "--output %s %s", data_path("resnet-mini/weights.safetensors"),
                        data_path("resnet-mini/input.npy"), y,
                        data_path("resnet-mini/input.npy"), y2, modes[m]);
        ck_assert_msg(st == 0, "%s: %s", modes[m], err_text);
        hb_tensor *got = hb_npy_load(y), *got2 = hb_npy_load(y2);
        hb_tensor *want = hb_npy_load(data_path("resnet-mini/output.npy"));
        ck_assert_msg(rel_error(got, want) <= 1e-4, "%s: %g", modes[m], rel_error(got, want));
        ck_assert_msg(rel_error(got2, want) <= 1e-4, "%s: %g", modes[m], rel_error(got2, want));
        hb_tensor_release(got), hb_tensor_release(got2), hb_tensor_release(want);
        unlink(y), unlink(y2);
    }
    char out[512];
    snprintf(out, sizeof out, "%s", temp_path("rn-bad.npy"));
    assert_fails_with(hybrid("run resnet-mini --input %s --output %s",
                             data_path("mlp/input.npy"), out),
                      "resnet-mini/conv1: conv2d: needs an input [N, C, H, W]", NULL);
    ck_assert_int_ne(hybrid("train resnet-mini --epochs 1"), 0);
    ck_assert_msg(strstr(err_text, "the model takes images"), "%s", err_text);
}
END_TEST

/* ONNX files: PyTorch's export of resnet-mini runs like PyTorch in both modes; hybrid export
 * writes a file that hybrid runs back to the same outputs; an unsupported op is one line
 * naming the node. */
START_TEST(onnx_files)
{
    const char *modes[] = {"eager", "hybrid"};
    char y[512], f[512];
    snprintf(y, sizeof y, "%s", temp_path("onnx-y.npy"));
    snprintf(f, sizeof f, "%s", temp_path("exported.onnx"));
    for (int m = 0; m < 2; m++) {
        int st = hybrid("run %s --input %s --output %s --input %s --output %s --mode %s",
                        data_path("onnx/resnet-mini.onnx"), data_path("onnx/resnet-mini.input.npy"),
                        y, data_path("onnx/resnet-mini.input.npy"), y, modes[m]);
        ck_assert_msg(st == 0, "%s", err_text);
        hb_tensor *got = hb_npy_load(y), *want = hb_npy_load(data_path("resnet-mini/output.npy"));
        ck_assert_double_le(rel_error(got, want), 1e-4);
        hb_tensor_release(got), hb_tensor_release(want);
    }
    ck_assert_msg(hybrid("export nest-mlp --weights %s --input %s --output %s",
                         data_path("nest-mlp/weights.safetensors"),
                         data_path("nest-mlp/input.npy"), f) == 0, "%s", err_text);
    ck_assert_msg(strstr(out_text, "written as ONNX (opset 13)"), "%s", out_text);
    ck_assert_msg(hybrid("run %s --input %s --output %s", f, data_path("nest-mlp/input.npy"), y) ==
                  0, "%s", err_text);
    hb_tensor *got = hb_npy_load(y), *want = hb_npy_load(data_path("nest-mlp/output.npy"));
    ck_assert_double_le(rel_error(got, want), 1e-4);
    hb_tensor_release(got), hb_tensor_release(want);
    ck_assert_msg(hybrid("dump %s --after memplan", f) == 0, "%s", err_text);
    ck_assert_msg(strstr(out_text, "gemm("), "%s", out_text);
    assert_fails_with(hybrid("export chimera --output %s", f), "guard at chimera/2", NULL);
    assert_fails_with(hybrid("run %s --input %s --output %s", data_path("mlp/input.npy"),
                             data_path("mlp/input.npy"), y), "unknown model", NULL);
    assert_fails_with(hybrid("run %s --input %s --output %s",
                             data_path("onnx/nonexistent.onnx"), data_path("mlp/input.npy"), y),
                      "nonexistent.onnx", "cannot open");
    unlink(y), unlink(f);
}
END_TEST

/* A model of several graph inputs (int64 ids, a bool padding mask): --input NAME=FILE or the
 * files in the graph's order, that many for each --output; wrong names, counts and dtypes are
 * one clear line. */
START_TEST(onnx_several_inputs)
{
    const char *model = data_path("onnx/encoder-ids.onnx");
    char y[512], y2[512], ids[512], pad[512];
    snprintf(y, sizeof y, "%s", temp_path("enc-y.npy"));
    snprintf(y2, sizeof y2, "%s", temp_path("enc-y2.npy"));
    snprintf(ids, sizeof ids, "%s", data_path("onnx/encoder-ids.ids.npy"));
    snprintf(pad, sizeof pad, "%s", data_path("onnx/encoder-ids.pad.npy"));
    const char *modes[] = {"eager", "hybrid"};
    for (int m = 0; m < 2; m++) {
        int st = hybrid("run %s --input pad=%s --input ids=%s --output %s --input %s --input %s "
                        "--output %s --mode %s", model, pad, ids, y, ids, pad, y2, modes[m]);
        ck_assert_msg(st == 0, "%s", err_text);
        hb_tensor *want = hb_npy_load(data_path("onnx/encoder-ids.output.npy"));
        for (int k = 0; k < 2; k++) {
            hb_tensor *got = hb_npy_load(k ? y2 : y);
            ck_assert_msg(rel_error(got, want) <= 1e-4, "%s output %d: %g", modes[m], k,
                          rel_error(got, want));
            hb_tensor_release(got);
        }
        hb_tensor_release(want);
    }
    unlink(y), unlink(y2);
    assert_fails_with(hybrid("run %s --input ids=%s --output %s", model, ids, y),
                      "takes 2 inputs (ids, pad)", "1 --input, 1 --output");
    assert_fails_with(hybrid("run %s --input ids=%s --input mask=%s --output %s", model, ids, pad,
                             y), "no graph input \"mask\"", "its inputs: ids, pad");
    assert_fails_with(hybrid("run %s --input ids=%s --input ids=%s --output %s", model, ids, ids,
                             y), "\"ids\" is given twice", NULL);
    assert_fails_with(hybrid("run %s --input ids=%s --input pad=%s --output %s", model, pad, ids,
                             y), "graph input \"ids\" is bool; the model declares int64", NULL);
    ck_assert(!exists(y));
    ck_assert_msg(hybrid("explain %s", model) == 0, "%s", err_text);
    ck_assert_msg(strstr(out_text, "plan for input i64[2, 4] -> [2, 2]"), "%s", out_text);
}
END_TEST

/* A streaming LSTM: --carry passes each call's state outputs to the next call's state inputs,
 * so a sequence in two chunks gives PyTorch's outputs for the two chunks with the state carried;
 * bad carries are named. */
START_TEST(onnx_carried_state)
{
    char model[512], y1[512], y2[512], x1[512], x2[512], h0[512], c0[512];
    snprintf(model, sizeof model, "%s", data_path("onnx/lstm-state.onnx"));
    snprintf(y1, sizeof y1, "%s", temp_path("state-y1.npy"));
    snprintf(y2, sizeof y2, "%s", temp_path("state-y2.npy"));
    snprintf(x1, sizeof x1, "%s", data_path("onnx/lstm-state.x1.npy"));
    snprintf(x2, sizeof x2, "%s", data_path("onnx/lstm-state.x2.npy"));
    snprintf(h0, sizeof h0, "%s", data_path("onnx/lstm-state.h0.npy"));
    snprintf(c0, sizeof c0, "%s", data_path("onnx/lstm-state.c0.npy"));
    const char *modes[] = {"eager", "hybrid"};
    for (int m = 0; m < 2; m++) {
        int st = hybrid("run %s --carry h0=hn --carry c0=cn --input x=%s --input h0=%s --input "
                        "c0=%s --output %s --input %s --output %s --mode %s", model, x1, h0, c0,
                        y1, x2, y2, modes[m]);
        ck_assert_msg(st == 0, "%s", err_text);
        for (int k = 0; k < 2; k++) {
            hb_tensor *got = hb_npy_load(k ? y2 : y1);
            hb_tensor *want = hb_npy_load(data_path(k ? "onnx/lstm-state.y2.npy"
                                                      : "onnx/lstm-state.y1.npy"));
            ck_assert_msg(rel_error(got, want) <= 1e-5, "%s chunk %d: %g", modes[m], k,
                          rel_error(got, want));
            hb_tensor_release(got), hb_tensor_release(want);
        }
        unlink(y1), unlink(y2);
    }
    /* without the carry, the second chunk starts from the file's zero state: other values */
    ck_assert_msg(hybrid("run %s --input %s --input %s --input %s --output %s", model, x2, h0, c0,
                         y2) == 0, "%s", err_text);
    hb_tensor *fresh = hb_npy_load(y2), *want = hb_npy_load(data_path("onnx/lstm-state.y2.npy"));
    ck_assert_msg(rel_error(fresh, want) > 1e-3, "the state made no difference");
    hb_tensor_release(fresh), hb_tensor_release(want);
    unlink(y2);
    assert_fails_with(hybrid("run %s --carry h0=hx --input %s --input %s --input %s --output %s",
                             model, x1, h0, c0, y1), "no graph output \"hx\"", "y, hn, cn");
    assert_fails_with(hybrid("run %s --carry s=hn --input %s --input %s --input %s --output %s",
                             model, x1, h0, c0, y1), "no graph input \"s\"", "x, h0, c0");
    assert_fails_with(hybrid("run %s --carry h0 --input %s --output %s", model, x1, y1),
                      "INPUT=OUTPUT", NULL);
    assert_fails_with(hybrid("run %s --carry h0=hn --input %s --input %s --input %s --output %s "
                             "--input h0=%s --input %s --output %s", model, x1, h0, c0, y1, h0,
                             x2, y2), "\"h0\" is carried", "only to the first call");
    assert_fails_with(hybrid("run %s --carry h0=hn --input %s --input %s --input %s --output %s "
                             "--input %s --output %s", model, x1, h0, c0, y1, x2, y2),
                      "1 of them carried", "2 for each later one");
    assert_fails_with(hybrid("run mlp --carry h0=hn --input %s --output %s", x1, y1),
                      "--carry needs an ONNX model", NULL);
    ck_assert(!exists(y1) && !exists(y2));
}
END_TEST

/* Hybrid mode: the first input traces, the later ones run the plan (or its islands). The
 * scaled input makes fixed-hidden's loop run a different number of times than when traced. */
START_TEST(run_hybrid_equals_eager)
{
    const char *models[] = {"mlp", "chimera", "fixed-hidden", "parallel", "factory", "nest-mlp",
                            "mlp-class", "my-sequential"};
    char big[512];
    snprintf(big, sizeof big, "%s", temp_path("big.npy"));
    for (size_t m = 0; m < sizeof models / sizeof models[0]; m++) {
        char rel[128], x[512], w[512], out[2][3][512];
        snprintf(rel, sizeof rel, "%s/input.npy", models[m]);
        snprintf(x, sizeof x, "%s", data_path(rel));
        snprintf(rel, sizeof rel, "%s/weights.safetensors", models[m]);
        snprintf(w, sizeof w, "%s", data_path(rel));
        hb_tensor *xt = hb_npy_load(x), *xs = hb_mul_scalar(xt, 1000.0f);
        ck_assert_int_eq(hb_npy_save(xs, big), HB_OK);
        hb_tensor_release(xt), hb_tensor_release(xs);
        const char *modes[] = {"eager", "hybrid"};
        for (int md = 0; md < 2; md++) {
            for (int k = 0; k < 3; k++) {
                char name[64];
                snprintf(name, sizeof name, "%s-%d-%d.npy", models[m], md, k);
                snprintf(out[md][k], sizeof out[md][k], "%s", temp_path(name));
            }
            int st = hybrid("run %s --weights %s --mode %s --input %s --output %s --input %s "
                            "--output %s --input %s --output %s", models[m], w, modes[md], x,
                            out[md][0], x, out[md][1], big, out[md][2]);
            ck_assert_msg(st == 0, "%s %s: %s", models[m], modes[md], err_text);
        }
        snprintf(rel, sizeof rel, "%s/output.npy", models[m]);
        hb_tensor *want = hb_npy_load(data_path(rel));
        for (int k = 0; k < 3; k++) {
            hb_tensor *e = hb_npy_load(out[0][k]), *h = hb_npy_load(out[1][k]);
            ck_assert_msg(rel_error(h, e) <= 1e-5, "%s input %d: hybrid differs from eager by %g",
                          models[m], k, rel_error(h, e));
            if (k < 2)
                ck_assert_double_le(rel_error(h, want), 1e-4);
            hb_tensor_release(e), hb_tensor_release(h);
            unlink(out[0][k]), unlink(out[1][k]);
        }
        hb_tensor_release(want);
    }
}
END_TEST

/* --freeze compiles with parameters as constants (packed weights): equal within rounding. */
START_TEST(run_frozen)
{
    char y[512];
    snprintf(y, sizeof y, "%s", temp_path("frozen.npy"));
    ck_assert_int_eq(hybrid("run mlp --mode hybrid --freeze --weights %s --input %s --output %s "
                            "--input %s --output %s", data_path("mlp/weights.safetensors"),
                            data_path("mlp/input.npy"), y, data_path("mlp/input.npy"), y), 0);
    hb_tensor *got = hb_npy_load(y), *want = hb_npy_load(data_path("mlp/output.npy"));
    ck_assert_double_le(rel_error(got, want), 1e-4);
    hb_tensor_release(got), hb_tensor_release(want);
    unlink(y);
    ck_assert_int_eq(hybrid("explain mlp --freeze --json"), 0);
    ck_assert_ptr_nonnull(strstr(out_text, "\"frozen\":true"));
    ck_assert_ptr_nonnull(strstr(out_text, "\"name\":\"fuse_gemm\""));
    ck_assert_int_eq(hybrid("dump mlp --freeze --after fuse_gemm"), 0);
    ck_assert_ptr_nonnull(strstr(out_text, "0.weight (packed)"));
    ck_assert_int_eq(hybrid("bench mlp --json --freeze"), 0);
    ck_assert_ptr_nonnull(strstr(out_text, "\"speedup\""));
}
END_TEST

/* bench times the inputs given as files (token ids here, one file per graph input), and says
 * how many it wanted when the count is wrong. */
START_TEST(bench_takes_input_files)
{
    const char *ids = data_path("sequence/transformer-classifier/input.npy");
    ck_assert_msg(hybrid("bench transformer-classifier --json --input %s", ids) == 0, "%s",
                  err_text);
    ck_assert_ptr_nonnull(strstr(out_text, "\"input\": \"[4, 16]\""));
    assert_fails_with(hybrid("bench transformer-classifier --input %s --input %s", ids, ids),
                      "takes 1 input", "2 given");
    assert_fails_with(hybrid("bench mlp --input %s", temp_path("missing.npy")), "missing.npy",
                      NULL);
}
END_TEST

/* hybrid grad reproduces PyTorch's gradients for every model with parameters, eagerly and as a
 * compiled step (chimera: through its loop), and refuses a bad call with one clear line. */
START_TEST(grad_matches_pytorch)
{
    char out[512];
    snprintf(out, sizeof out, "%s", temp_path("grads.safetensors"));
    const char *models[] = {"mlp", "mlp-class", "my-sequential", "fixed-hidden", "nest-mlp",
                            "chimera", "parallel", "factory"};
    for (int run = 0; run < 16; run++) {
        int m = run / 2;
        const char *mode = run % 2 ? "hybrid" : "eager";
        char w[256], x[256], g[256], ref[256];
        snprintf(w, sizeof w, "%s/weights.safetensors", models[m]);
        snprintf(x, sizeof x, "%s/input.npy", models[m]);
        snprintf(g, sizeof g, "%s/grad_output.npy", models[m]);
        snprintf(ref, sizeof ref, "%s/grads.safetensors", models[m]);
        int st = hybrid("grad %s --weights %s --input %s --grad-output %s --output %s --mode %s",
                        models[m], data_path(w), data_path(x), data_path(g), out, mode);
        ck_assert_msg(st == 0, "%s %s: %s", models[m], mode, err_text);
        hb_state_dict have, want;
        ck_assert_int_eq(hb_safetensors_load(out, &have), HB_OK);
        ck_assert_int_eq(hb_safetensors_load(data_path(ref), &want), HB_OK);
        ck_assert_int_eq(have.count, want.count);
        for (int i = 0; i < want.count; i++)
            for (int k = 0; k < have.count; k++)
                if (strcmp(have.items[k].name, want.items[i].name) == 0) {
                    double e = rel_error(have.items[k].value, want.items[i].value);
                    ck_assert_msg(e <= 1e-4, "%s %s %s: relative error %g", models[m], mode,
                                  want.items[i].name, e);
                }
        hb_state_dict_free(&have), hb_state_dict_free(&want);
        unlink(out);
    }
    assert_fails_with(hybrid("grad mlp --weights %s --input %s --grad-output %s --output %s "
                             "--mode hybrid", data_path("mlp/weights.safetensors"),
                             data_path("mlp/input.npy"), data_path("chimera/grad_output.npy"),
                             out),
                      "dot loss", "[2, 10]");
    assert_fails_with(hybrid("grad mlp --input %s --output %s", data_path("mlp/input.npy"), out),
                      "--grad-output", NULL);
    /* the compiled step's graph: every pass, the backward from the autodiff pass */
    ck_assert_int_eq(hybrid("dump chimera --train --optimizer sgd --after all"), 0);
    ck_assert_ptr_nonnull(strstr(out_text, "# after autodiff: "));
    ck_assert_ptr_nonnull(strstr(out_text, "# after lift_loops: none lifted in a training step"));
    ck_assert_ptr_nonnull(strstr(out_text, "@\"update 2.linear.weight\""));
    assert_fails_with(hybrid("dump mlp --train --format dot"), "--train", "text");
    assert_fails_with(hybrid("dump mlp --optimizer sgd"), "--optimizer", "--train");
    ck_assert(!exists(out));
}
END_TEST

/* train: a progress line per epoch, the final test accuracy >= 95% on its mixture, an SVG. */
START_TEST(train_reaches_accuracy)
{
    char svg[512];
    snprintf(svg, sizeof svg, "%s", temp_path("loss.svg"));
    const char *opts[] = {"--optimizer adam", "--optimizer sgd --lr 0.02",
                          "--optimizer adam --mode eager"};
    for (int i = 0; i < 3; i++) {
        int st = hybrid("train mlp --epochs 4 %s --svg %s", opts[i], svg);
        ck_assert_msg(st == 0, "%s", err_text);
        ck_assert_int_eq(test_count_substr(out_text, "steps/s\n"), 4);
        const char *last = strstr(out_text, "epoch 4/4");
        ck_assert_ptr_nonnull(last);
        const char *test = strstr(last, "(test ");
        ck_assert_ptr_nonnull(test);
        double acc = strtod(test + 6, NULL);
        ck_assert_msg(acc >= 95.0, "%s: test accuracy %.1f%% after 4 epochs", opts[i], acc);
        /* compiled unless asked otherwise: every step after the first ran the plan */
        ck_assert_ptr_nonnull(strstr(out_text, i < 2 ? "128 steps: 128 ran a plan, 1 traced, 0 ran eagerly"
                                                     : "eager steps"));
        char *text = test_slurp(svg);
        ck_assert_ptr_nonnull(text);
        ck_assert_ptr_nonnull(strstr(text, "<polyline"));
        ck_assert_ptr_nonnull(strstr(text, "</svg>"));
        free(text);
        unlink(svg);
    }
    assert_fails_with(hybrid("train mlp --optimizer rmsprop"), "--optimizer", "rmsprop");
    assert_fails_with(hybrid("train chimera --epochs 1"), "chimera", "[]");
    ck_assert(!exists(svg));
}
END_TEST

START_TEST(run_scalar_output)
{
    char y[512];
    snprintf(y, sizeof y, "%s", temp_path("chimera.npy"));
    ck_assert_int_eq(hybrid("run chimera --weights %s --input %s --output %s",
                            data_path("chimera/weights.safetensors"),
                            data_path("chimera/input.npy"), y), 0);
    hb_tensor *got = hb_npy_load(y), *want = hb_npy_load(data_path("chimera/output.npy"));
    ck_assert_int_eq(hb_tensor_ndim(got), 0);
    ck_assert_double_le(rel_error(got, want), 1e-4);
    hb_tensor_release(got), hb_tensor_release(want);
    unlink(y);
}
END_TEST

START_TEST(bad_inputs_fail_cleanly)
{
    char y[512], y2[512], bad[512];
    snprintf(y, sizeof y, "%s", temp_path("never.npy"));
    snprintf(y2, sizeof y2, "%s", temp_path("never2.npy"));
    const char *w = data_path("mlp/weights.safetensors");
    char x[512];
    snprintf(x, sizeof x, "%s", data_path("mlp/input.npy"));

    assert_fails_with(hybrid("run nosuchmodel --input %s --output %s", x, y), "nosuchmodel",
                      "mlp");
    assert_fails_with(hybrid("run mlp --input /nonexistent/x.npy --output %s", y),
                      "/nonexistent/x.npy", NULL);
    assert_fails_with(hybrid("run mlp --weights /nonexistent/w --input %s --output %s", x, y),
                      "/nonexistent/w", NULL);
    assert_fails_with(hybrid("run mlp --input %s", x), "--output", NULL);
    assert_fails_with(hybrid("run mlp --input %s --output %s --mode fast", x, y), "fast", NULL);
    assert_fails_with(hybrid("run mlp --input %s --output %s --threads zero", x, y), "zero",
                      NULL);
    /* weights of another model: the first name it lacks is reported */
    assert_fails_with(hybrid("run mlp-class --weights %s --input %s --output %s", w, x, y),
                      "hidden.weight", NULL);
    /* a truncated weights file */
    snprintf(bad, sizeof bad, "%s", temp_path("truncated.safetensors"));
    ck_assert_int_eq(system("true"), 0);
    FILE *in = fopen(w, "rb"), *out = fopen(bad, "wb");
    char buf[4096];
    size_t n = fread(buf, 1, sizeof buf, in);
    fwrite(buf, 1, n, out);
    fclose(in), fclose(out);
    assert_fails_with(hybrid("run mlp --weights %s --input %s --output %s", bad, x, y),
                      "truncated.safetensors", NULL);
    /* a wrong input width against loaded weights names the block and both shapes */
    hb_tensor *wide = hb_ones(HB_SHAPE(2, 21));
    snprintf(bad, sizeof bad, "%s", temp_path("wide.npy"));
    ck_assert_int_eq(hb_npy_save(wide, bad), HB_OK);
    hb_tensor_release(wide);
    assert_fails_with(hybrid("run mlp --weights %s --input %s --output %s", w, bad, y),
                      "mlp/0", "[2, 21]");
    /* the second input is bad: the first output must not be written either */
    assert_fails_with(hybrid("run mlp --weights %s --input %s --output %s --input %s --output %s",
                             w, x, y, bad, y2), "wide.npy", NULL);
    ck_assert(!exists(y));
    ck_assert(!exists(y2));
}
END_TEST

START_TEST(demo_runs_every_model)
{
    ck_assert_int_eq(hybrid("demo"), 0);
    const char *names[] = {"== mlp:", "== mlp-class:", "== my-sequential:", "== fixed-hidden:",
                           "== nest-mlp:", "== chimera:", "== parallel:", "== factory:",
                           "== scaled-fixed:", "== resnet-mini:", "output [2, 96]", "10 models ran eagerly and hybridized with equal results, 0 failed", "guards (one path through hb_test outcomes, 1",
                           "== transformer-classifier:", "== lstm-lm:", "input int64 [2, 16] -> output [2, 16, 100]",
                           "2 models of later chapters ran eagerly and hybridized with equal results, 0 failed"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        ck_assert_msg(strstr(out_text, names[i]), "demo output lacks %s", names[i]);
}
END_TEST

START_TEST(help_and_unknown_commands)
{
    ck_assert_int_eq(hybrid("help"), 0);
    ck_assert_ptr_nonnull(strstr(out_text, "usage: hybrid"));
    ck_assert_int_eq(hybrid("%s", ""), 2);
    ck_assert_int_eq(hybrid("frobnicate"), 2);
    ck_assert_ptr_nonnull(strstr(err_text, "frobnicate"));
    ck_assert_int_eq(hybrid("models"), 0);
    ck_assert_ptr_nonnull(strstr(out_text, "scaled-fixed"));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("cli");
    TCase *tc = tcase_create("cli");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, run_matches_pytorch);
    tcase_add_test(tc, run_hybrid_equals_eager);
    tcase_add_test(tc, run_frozen);
    tcase_add_test(tc, bench_takes_input_files);
    tcase_add_test(tc, run_resnet_mini);
    tcase_add_test(tc, onnx_files);
    tcase_add_test(tc, onnx_several_inputs);
    tcase_add_test(tc, onnx_carried_state);
    tcase_add_test(tc, grad_matches_pytorch);
    tcase_add_test(tc, train_reaches_accuracy);
    tcase_add_test(tc, run_scalar_output);
    tcase_add_test(tc, bad_inputs_fail_cleanly);
    tcase_add_test(tc, demo_runs_every_model);
    tcase_add_test(tc, help_and_unknown_commands);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
