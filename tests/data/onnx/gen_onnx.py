"""ONNX files of the seed models for the onnx suite (tests/test_onnx.c), exported by PyTorch
1.13.1's torch.onnx.export from the shared fixtures' weights:

    /usr/bin/python3 tests/data/onnx/gen_onnx.py

For each case NAME it writes NAME.onnx, NAME.input.npy (the fixture's input) and
NAME.output.npy (PyTorch's output for it). The batch axis is dynamic (the suite also runs other
batch sizes). fixed-hidden and chimera are exported too, but PyTorch's exporter traces their
data-dependent loop: their files are right for the fixture's input only. resnet-mini is exported in inference mode, where PyTorch folds each
batch norm into its convolution; resnet-mini-bn keeps them (do_constant_folding off and
training mode preserved is not what users export, but it is what reaches BatchNormalization)."""
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tools"))
sys.path.insert(0, os.path.join(HERE, "..", "..", "..", "bench"))
from make_extra import MODELS  # noqa: E402
from compare_torch import ResNet  # noqa: E402

sys.path.insert(0, os.path.join(HERE, "..", "conv"))
from gen_resnet_grads import load_safetensors as read_safetensors  # noqa: E402


def load_safetensors(path):
    return {k: torch.tensor(v.copy()) for k, v in read_safetensors(path).items()}


def export(case, model, fixture, opset, **kw):
    data = os.path.join(HERE, "..", fixture)
    state = model.state_dict()
    state.update({k: v for k, v in load_safetensors(os.path.join(data, "weights.safetensors")).items()
                  if k in state})
    model.load_state_dict(state)
    model.eval()
    x = torch.tensor(np.load(os.path.join(data, "input.npy")))
    with torch.no_grad():
        y = model(x)
    torch.onnx.export(model, x, os.path.join(HERE, case + ".onnx"), opset_version=opset,
                      input_names=["x"], output_names=["y"], dynamic_axes={"x": {0: "batch"}},
                      **kw)
    np.save(os.path.join(HERE, case + ".input.npy"), x.numpy())
    np.save(os.path.join(HERE, case + ".output.npy"), y.numpy())
    print(case, "opset", opset, tuple(x.shape), "->", tuple(y.shape))


def main():
    torch.manual_seed(0)
    for name in ["mlp", "mlp-class", "nest-mlp", "parallel", "factory"]:
        export(name, MODELS[name][1](20), name, 13)
    # the data-dependent loop is traced: the export repeats x / 2 as often as the fixture's
    # input needed, and is right for that input only (hybrid's own trace keeps it a loop)
    for name in ["fixed-hidden", "chimera"]:
        export(name, MODELS[name][1](20), name, 13)
    export("mlp-opset7", MODELS["mlp"][1](20), "mlp", 7)
    export("resnet-mini", ResNet((16, 32, 64, 128), (1, 1, 1, 1), 10), "resnet-mini", 13)
    export("resnet-mini-opset9", ResNet((16, 32, 64, 128), (1, 1, 1, 1), 10), "resnet-mini", 9)
    export("resnet-mini-bn", ResNet((16, 32, 64, 128), (1, 1, 1, 1), 10), "resnet-mini", 13,
           do_constant_folding=False, training=torch.onnx.TrainingMode.PRESERVE)


if __name__ == "__main__":
    main()
