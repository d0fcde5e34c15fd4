"""ONNX files for the resizing and layout mappings (Resize, DepthToSpace, Einsum) in the onnx
suite (tests/test_onnx.c), exported by PyTorch 1.13.1, and nodes hybrid refuses made with
Debian's python3-onnx:

    /usr/bin/python3 tests/data/onnx/gen_resize.py

For each model NAME it writes NAME.onnx, NAME.x.npy and NAME.output.npy (PyTorch's output), as
gen_typed.py does. Only the test data needs these packages."""
import os

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F
from onnx import TensorProto, helper

HERE = os.path.dirname(os.path.abspath(__file__))


class Bicubic(nn.Module):
    """A resize to a size given (not a scale), cubic, corners aligned: PyTorch's bicubic."""

    def forward(self, x):
        return F.interpolate(x, size=(5, 7), mode="bicubic", align_corners=True)


class Attention(nn.Module):
    """Attention scores and their weighted sum written as einsums."""

    def forward(self, x):
        s = torch.softmax(torch.einsum("bqd,bkd->bqk", x, x), dim=-1)
        return torch.einsum("bqk,bkd->bqd", s, x)


def export(name, model, x, opset=13):
    model.eval()
    with torch.no_grad():
        want = model(x)
    torch.onnx.export(model, (x,), os.path.join(HERE, name + ".onnx"), input_names=["x"],
                      output_names=["y"], opset_version=opset)
    np.save(os.path.join(HERE, name + ".x.npy"), x.numpy())
    np.save(os.path.join(HERE, name + ".output.npy"), want.numpy())


def refused(name, node, shape, out_shape, inits=()):
    """NAME.onnx: one node hybrid refuses at load."""
    g = helper.make_graph([node], name, [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, out_shape)],
                          list(inits))
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]),
              os.path.join(HERE, name + ".onnx"))


def main():
    torch.manual_seed(0)
    x = torch.randn(1, 2, 3, 4)
    export("upsample-nearest", nn.Upsample(scale_factor=2, mode="nearest"), x)
    export("upsample-bilinear", nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False), x)
    export("bicubic-sizes", Bicubic(), x, opset=11)
    export("pixel-shuffle", nn.PixelShuffle(2), torch.randn(1, 8, 2, 3))
    export("einsum-attention", Attention(), torch.randn(2, 3, 4))
    refused("einsum-diagonal", helper.make_node("Einsum", ["x"], ["y"], name="the_einsum",
                                                equation="ii->i"), [3, 3], [3])
    refused("einsum-three", helper.make_node("Einsum", ["x", "x"], ["y"], name="the_einsum",
                                             equation="i,i,i->i"), [3], [3])
    scales = helper.make_tensor("scales", TensorProto.FLOAT, [4], [1, 1, 0.5, 0.5])
    refused("resize-area", helper.make_node("Resize", ["x", "", "scales"], ["y"], name="the_resize",
                                            mode="area"), [1, 1, 4, 4], [1, 1, 2, 2], [scales])


if __name__ == "__main__":
    main()
