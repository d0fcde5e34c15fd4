"""Gradients of resnet-mini (inference mode) for the conv suite, from PyTorch 1.13.1:
    /usr/bin/python3 tests/data/conv/gen_resnet_grads.py
reads tests/data/resnet-mini/{weights.safetensors,input.npy} (the shared fixture) and writes
tests/data/conv/resnet-mini-grad_output.npy (a random G of the output's shape) and
tests/data/conv/resnet-mini-grads.safetensors (d sum(output * G) / d parameter, every trainable
parameter by its torchvision name). The model is bench/compare_torch.py's torchvision-layout
ResNet."""
import json
import os
import struct
import sys

import numpy as np
import torch

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.join(here, "..", "..", "..")
sys.path.insert(0, os.path.join(root, "bench"))
from compare_torch import ResNet  # noqa: E402


def load_safetensors(path):
    blob = open(path, "rb").read()
    n = struct.unpack("<Q", blob[:8])[0]
    header = json.loads(blob[8:8 + n])
    out = {}
    for name, v in header.items():
        if name == "__metadata__":
            continue
        s, e = v["data_offsets"]
        out[name] = np.frombuffer(blob[8 + n + s:8 + n + e], dtype=np.float32).reshape(v["shape"])
    return out


def save_safetensors(path, tensors):
    header, offset, blobs = {}, 0, []
    for name in sorted(tensors):
        data = np.ascontiguousarray(tensors[name], dtype=np.float32).tobytes()
        header[name] = {"dtype": "F32", "shape": list(tensors[name].shape),
                        "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def main():
    data = os.path.join(here, "..", "resnet-mini")
    model = ResNet((16, 32, 64, 128), (1, 1, 1, 1), 10)
    weights = load_safetensors(os.path.join(data, "weights.safetensors"))
    state = model.state_dict()
    for name in state:
        if name in weights:
            state[name] = torch.tensor(weights[name].copy())
    model.load_state_dict(state)
    model.eval()
    x = torch.tensor(np.load(os.path.join(data, "input.npy")))
    torch.manual_seed(1)
    y = model(x)
    g = torch.randn(*y.shape)
    (y * g).sum().backward()
    np.save(os.path.join(here, "resnet-mini-grad_output.npy"), g.numpy())
    save_safetensors(os.path.join(here, "resnet-mini-grads.safetensors"),
                     {n: p.grad.numpy() for n, p in model.named_parameters()})
    print("resnet-mini gradients:", len(list(model.parameters())), "tensors")


if __name__ == "__main__":
    main()
