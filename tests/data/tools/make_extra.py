"""Reference data beyond the shared fixtures: every seed model at another batch size and input
width (batch 5, width 33; fixed-hidden keeps its fixed width 20), from PyTorch.

Run with Debian's python3-torch:  /usr/bin/python3 tests/data/tools/make_extra.py
Writes tests/data/extra/NAME/{weights.safetensors,input.npy,output.npy}. The tests only read
the files; PyTorch is never needed to build or test hybrid."""
import json
import os
import struct

import numpy as np
import torch
from torch import nn

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "extra")


class MLP(nn.Module):
    def __init__(self, i):
        super().__init__()
        self.hidden = nn.Linear(i, 256)
        self.out = nn.Linear(256, 10)

    def forward(self, x):
        return self.out(torch.relu(self.hidden(x)))


class FixedHiddenMLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("rand_weight", torch.rand(20, 20))
        self.linear = nn.Linear(20, 20)

    def forward(self, x):
        x = self.linear(x)
        x = torch.relu(x @ self.rand_weight + 1)
        x = self.linear(x)
        while x.abs().sum() > 1:
            x /= 2
        return x.sum()


class NestMLP(nn.Module):
    def __init__(self, i):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(i, 64), nn.ReLU(), nn.Linear(64, 32), nn.ReLU())
        self.linear = nn.Linear(32, 16)

    def forward(self, x):
        return self.linear(self.net(x))


class Parallel(nn.Module):
    def __init__(self, i):
        super().__init__()
        self.net1 = nn.Sequential(nn.Linear(i, 64), nn.ReLU())
        self.net2 = nn.Sequential(nn.Linear(i, 32), nn.Tanh())

    def forward(self, x):
        return torch.cat([self.net1(x), self.net2(x)], 1)


def factory(i):
    block = lambda: nn.Sequential(nn.Linear(32, 32), nn.ReLU())
    return nn.Sequential(nn.Linear(i, 32), nn.ReLU(), nn.Sequential(*[block() for _ in range(4)]),
                         nn.Linear(32, 10))


MODELS = {
    "mlp": (33, lambda i: nn.Sequential(nn.Linear(i, 256), nn.ReLU(), nn.Linear(256, 10))),
    "mlp-class": (33, MLP),
    "my-sequential": (33, lambda i: nn.Sequential(nn.Linear(i, 256), nn.ReLU(), nn.Linear(256, 10))),
    "fixed-hidden": (20, lambda i: FixedHiddenMLP()),
    "nest-mlp": (33, NestMLP),
    "chimera": (33, lambda i: nn.Sequential(NestMLP(i), nn.Linear(16, 20), FixedHiddenMLP())),
    "parallel": (33, Parallel),
    "factory": (33, factory),
}


def save_safetensors(path, tensors):
    header, blobs, offset = {}, [], 0
    for name, t in tensors.items():
        data = t.detach().contiguous().numpy().astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def main():
    torch.manual_seed(1)
    for name, (width, make) in MODELS.items():
        model = make(width)
        x = torch.rand(5, width)
        with torch.no_grad():
            y = model(x)
        d = os.path.join(OUT, name)
        os.makedirs(d, exist_ok=True)
        save_safetensors(os.path.join(d, "weights.safetensors"), model.state_dict())
        np.save(os.path.join(d, "input.npy"), x.numpy())
        np.save(os.path.join(d, "output.npy"), y.numpy())
        print(name, tuple(x.shape), "->", tuple(y.shape))


if __name__ == "__main__":
    main()
