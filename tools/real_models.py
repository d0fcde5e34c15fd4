#!/usr/bin/python3
"""Real models that nobody here wrote, exported by PyTorch, to see which hybrid runs.

Writes DIR/NAME.onnx, DIR/NAME.in.npy and DIR/NAME.out.npy (PyTorch's output) for each model,
then, with --hybrid BIN, runs each through `BIN run` eagerly, hybridized and frozen and prints a
table of the largest difference from PyTorch per mode (or the first line of the error).
Needs Debian's python3-torch and python3-torchvision (run with /usr/bin/python3); the library
and its tests never do.

    /usr/bin/python3 tools/real_models.py /tmp/real --hybrid build/hybrid [--only vit_b_16,...]
"""
import argparse
import json
import os
import subprocess
import sys

import numpy as np
import torch
import torch.nn as nn


class GeluMlp(nn.Module):
    def __init__(self, approximate="none"):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(32, 64), nn.GELU(approximate=approximate),
                                 nn.LayerNorm(64), nn.Linear(64, 10))

    def forward(self, x):
        return self.net(x)


class EncoderClassifier(nn.Module):
    def __init__(self, d=32, heads=4, layers=2, classes=5):
        super().__init__()
        layer = nn.TransformerEncoderLayer(d, heads, dim_feedforward=64, dropout=0.0,
                                           batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers)
        self.head = nn.Linear(d, classes)

    def forward(self, x):
        return self.head(self.encoder(x)[:, 0])


class RecurrentClassifier(nn.Module):
    def __init__(self, cell, bidirectional=False):
        super().__init__()
        self.rnn = cell(16, 24, num_layers=2, batch_first=True, bidirectional=bidirectional)
        self.head = nn.Linear(24 * (2 if bidirectional else 1), 4)

    def forward(self, x):
        y, _ = self.rnn(x)
        return self.head(y[:, -1])


def vision(name, size=224):
    import torchvision.models as tvm

    def make():
        return getattr(tvm, name)(weights=None)

    return make, (1, 3, size, size)


MODELS = {
    "gelu_mlp": (lambda: GeluMlp(), (4, 32)),
    "gelu_tanh_mlp": (lambda: GeluMlp("tanh"), (4, 32)),
    "transformer_encoder": (lambda: EncoderClassifier(), (2, 7, 32)),
    "lstm": (lambda: RecurrentClassifier(nn.LSTM), (2, 9, 16)),
    "lstm_bidirectional": (lambda: RecurrentClassifier(nn.LSTM, True), (2, 9, 16)),
    "gru": (lambda: RecurrentClassifier(nn.GRU), (2, 9, 16)),
    "rnn": (lambda: RecurrentClassifier(nn.RNN), (2, 9, 16)),
}
for _name in ["resnet18", "mobilenet_v2", "mobilenet_v3_small", "efficientnet_b0",
              "densenet121", "googlenet", "shufflenet_v2_x0_5", "mnasnet0_5",
              "regnet_y_400mf", "vgg11", "alexnet", "squeezenet1_0", "convnext_tiny",
              "vit_b_16", "swin_t"]:
    MODELS[_name] = vision(_name)


def export(name, outdir, opset):
    make, shape = MODELS[name]
    torch.manual_seed(0)
    model = make().eval()
    with torch.no_grad():  # a zero-initialized head (ViT's) would make the output constant
        for w in model.parameters():
            if w.dim() >= 2 and not w.any():
                w.normal_(0, 0.02)
    x = torch.randn(*shape)
    with torch.no_grad():
        y = model(x)
    path = os.path.join(outdir, name)
    torch.onnx.export(model, x, path + ".onnx", opset_version=opset, input_names=["input"],
                      output_names=["output"])
    np.save(path + ".in.npy", x.numpy())
    np.save(path + ".out.npy", y.numpy())


def run(hybrid, name, outdir, mode):
    path = os.path.join(outdir, name)
    got = path + "." + mode + ".npy"
    # twice: in hybrid mode the first call traces (eagerly) and the second runs the plan
    args = [hybrid, "run", path + ".onnx", "--input", path + ".in.npy", "--output",
            path + ".first.npy", "--input", path + ".in.npy", "--output", got]
    args += {"eager": ["--mode", "eager"], "hybrid": ["--mode", "hybrid"],
             "frozen": ["--mode", "hybrid", "--freeze"]}[mode]
    p = subprocess.run(args, capture_output=True, text=True)
    if p.returncode != 0:
        first = (p.stderr.strip().splitlines() or ["exit %d" % p.returncode])[0]
        return first.replace(path + ".onnx: ", "")
    want = np.load(path + ".out.npy")
    cell = "%.2g" % float(np.max(np.abs(np.load(got) - want)))
    if mode != "eager":  # compiled means a plan with no eager island
        p = subprocess.run([hybrid, "explain", path + ".onnx", "--json"]
                           + (["--freeze"] if mode == "frozen" else []),
                           capture_output=True, text=True)
        info = json.loads(p.stdout) if p.returncode == 0 else {}
        if not info.get("compiled") or info.get("eager_islands"):
            cell += " (eager island: %s)" % (info.get("eager_islands") or p.stderr.strip())
    return cell


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dir")
    ap.add_argument("--hybrid", help="the hybrid command to run the models with")
    ap.add_argument("--opset", type=int, default=13)
    ap.add_argument("--only", help="comma-separated model names")
    args = ap.parse_args()
    names = args.only.split(",") if args.only else list(MODELS)
    os.makedirs(args.dir, exist_ok=True)
    for name in names:
        if not os.path.exists(os.path.join(args.dir, name + ".onnx")):
            print("exporting", name, file=sys.stderr)
            export(name, args.dir, args.opset)
    if not args.hybrid:
        return
    print("| model | max abs of PyTorch's output | eager | compiled | frozen |")
    print("|---|---|---|---|---|")
    for name in names:
        cells = [run(args.hybrid, name, args.dir, m) for m in ("eager", "hybrid", "frozen")]
        scale = float(np.max(np.abs(np.load(os.path.join(args.dir, name + ".out.npy")))))
        print("| %s | %.2g | %s |" % (name, scale, " | ".join(cells)), flush=True)


if __name__ == "__main__":
    main()
