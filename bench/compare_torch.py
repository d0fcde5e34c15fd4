"""PyTorch's side of `./dev bench` (bench/compare.c is hybrid's): the same cases as PyTorch
modules, timed as PyTorch eager, torch.jit.trace, and torch.jit.freeze + optimize_for_inference
(which uses oneDNN), columns alternating within each round, medians. One JSON object per case
is appended to --json; a progress line per case goes to stderr. Run with Debian's
/usr/bin/python3 (python3-torch); never used by the library or its tests.

    /usr/bin/python3 bench/compare_torch.py [--rounds R] [--threads N] [--json FILE]
"""
import argparse
import json
import sys
import time
import warnings

import torch
from torch import nn

ROUND_S = 0.02  # a round of one column lasts at least this long


class Chain(nn.Module):
    def forward(self, x):
        y = x * torch.sigmoid(x)
        y = 0.5 * y + 1
        y = y * torch.tanh(0.79788456 * (y + 0.044715 * y * y * y))
        return torch.sum(torch.abs(y))


class NestMLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Linear(64, 32), nn.ReLU())
        self.linear = nn.Linear(32, 16)

    def forward(self, x):
        return self.linear(self.net(x))


class FixedHiddenMLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.rand_weight = torch.rand((20, 20), requires_grad=False)
        self.linear = nn.Linear(20, 20)

    def forward(self, x):
        x = self.linear(x)
        x = torch.relu(torch.mm(x, self.rand_weight) + 1)
        x = self.linear(x)
        while x.abs().sum() > 1:  # traced, the trip count is baked in
            x = x / 2
        return x.sum()


class BasicBlock(nn.Module):
    """torchvision's BasicBlock (torchvision is not a Debian package here)."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU()
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False),
                                            nn.BatchNorm2d(cout))

    def forward(self, x):
        y = self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x)))))
        return self.relu(y + (x if self.downsample is None else self.downsample(x)))


class ResNet(nn.Module):
    """torchvision's ResNet layout: resnet18 is widths 64/128/256/512, 2 blocks each."""

    def __init__(self, widths=(64, 128, 256, 512), blocks=(2, 2, 2, 2), classes=1000):
        super().__init__()
        self.conv1 = nn.Conv2d(3, widths[0], 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.relu = nn.ReLU()
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        cin, stages = widths[0], []
        for i, (w, n) in enumerate(zip(widths, blocks)):
            stages.append(nn.Sequential(*[BasicBlock(cin if j == 0 else w, w,
                                                     2 if i > 0 and j == 0 else 1)
                                          for j in range(n)]))
            cin = w
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(cin, classes)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


class Classifier(nn.Module):
    """examples/sequence_models.c's transformer-classifier (tests/data/sequence/gen_blocks.py):
    in eval mode PyTorch runs its encoder layers through its fused fast path
    (_transformer_encoder_layer_fwd)."""

    def __init__(self):
        super().__init__()
        self.embedding = nn.Embedding(100, 32)
        self.positions = nn.Parameter(torch.randn(64, 32) * 0.02)
        layer = nn.TransformerEncoderLayer(32, 4, dim_feedforward=64, dropout=0.0,
                                           batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
        self.head = nn.Linear(32, 2)

    def forward(self, ids):
        pad = ids == 0
        x = self.embedding(ids) + self.positions[:ids.shape[1]]
        x = self.encoder(x, src_key_padding_mask=pad)
        keep = (~pad).float().unsqueeze(-1)
        return self.head((x * keep).sum(1) / keep.sum(1))


def token_ids(shape):
    """examples/registry.c's example_input: ids in [1, 100), the last quarter of every other
    row padding (0)."""
    ids = torch.randint(1, 100, shape)
    ids[1::2, shape[1] - shape[1] // 4:] = 0
    return ids


def mlp(widths):
    layers = []
    for i in range(len(widths) - 1):
        layers += [nn.Linear(widths[i], widths[i + 1]), nn.ReLU()]
    return nn.Sequential(*layers[:-1])


def deep():
    layers = [nn.Linear(256, 256)]
    for _ in range(15):
        layers += [nn.ReLU(), nn.Linear(256, 256)]
    return nn.Sequential(*layers, nn.ReLU())


CASES = [
    ("mlp", lambda: mlp([20, 256, 10]), (2, 20)),
    ("mlp_wide", lambda: mlp([1024, 1024, 1024]), (256, 1024)),
    ("mlp_deep", deep, (64, 256)),
    ("chain", Chain, (4194304,)),
    ("chimera", lambda: nn.Sequential(NestMLP(), nn.Linear(16, 20), FixedHiddenMLP()), (2, 20)),
    ("resnet18", ResNet, (1, 3, 224, 224)),
    ("transformer", Classifier, (2, 16)),
]


def timed(fn, calls):
    t0 = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - t0) / calls * 1e6


def measure(fns, rounds):
    """Median µs per call of each function, rounds alternating between them."""
    calls = {}
    for name, fn in fns.items():
        fn(), fn()  # warm
        once = timed(fn, 1) / 1e6
        calls[name] = max(1, int(ROUND_S / max(once, 1e-7)))
    times = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            times[name].append(timed(fn, calls[name]))
    return {name: sorted(t)[len(t) // 2] for name, t in times.items()}


def inference_columns(make, shape):
    model = make().eval()
    x = token_ids(shape) if make is Classifier else torch.rand(*shape)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the trace warns about the loop it unrolls
        # traced inside inference_mode, as they run: the encoder's fast path differs from the
        # graph traced outside, which fails the trace's own check of the two
        traced = torch.jit.trace(model, x, check_trace=False)
        frozen = torch.jit.optimize_for_inference(
            torch.jit.freeze(torch.jit.trace(model, x, check_trace=False)))

    def run(m):
        return lambda: m(x)  # inside the inference_mode that main() enters once

    return {"torch eager": run(model), "torch.jit.trace": run(traced),
            "torch.jit.freeze": run(frozen)}


def train_columns():
    model = mlp([20, 256, 10])
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    x, y = torch.rand(64, 20), torch.randint(0, 10, (64,))

    def step():
        opt.zero_grad()
        loss_fn(model(x), y).backward()
        opt.step()

    return {"torch eager": step}


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--json", default=None)
    a = p.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(a.threads)
    out = open(a.json, "a") if a.json else sys.stdout
    out.write(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads()}) + "\n")
    for key, make, shape in CASES + [("train", None, None)]:
        if key == "train":
            result = measure(train_columns(), a.rounds)
        else:
            with torch.inference_mode():  # entered once: it costs ~1.7 µs a call
                result = measure(inference_columns(make, shape), a.rounds)
        out.write(json.dumps({"case": key, "rounds": a.rounds, "columns": result}) + "\n")
        out.flush()
        print(f"  {key:10s} " + "  ".join(f"{n} {v:.2f} us" for n, v in result.items()),
              file=sys.stderr)


if __name__ == "__main__":
    main()
