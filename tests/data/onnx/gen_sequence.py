"""ONNX files beyond CNNs for the onnx suite (tests/test_onnx.c): small transformer, recurrent
and GELU models with PyTorch's random weights, exported by PyTorch 1.13.1, and one-node files
that hybrid must refuse with the node named (made with Debian's python3-onnx):

    /usr/bin/python3 tests/data/onnx/gen_sequence.py

For each model NAME it writes NAME.onnx, NAME.input.npy and NAME.output.npy (PyTorch's output);
the refusals are bad-NAME.onnx. Only the test data needs these packages, never the library."""
import os

import numpy as np
import onnx
import torch
import torch.nn as nn
from onnx import TensorProto, helper

HERE = os.path.dirname(os.path.abspath(__file__))


class GeluMlp(nn.Module):
    def __init__(self, approximate):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(12, 24), nn.GELU(approximate=approximate),
                                 nn.LayerNorm(24), nn.Linear(24, 5))

    def forward(self, x):
        return self.net(x)


class Encoder(nn.Module):
    """nn.TransformerEncoder with a classifier on the first position (x[:, 0])."""

    def __init__(self):
        super().__init__()
        layer = nn.TransformerEncoderLayer(16, 4, dim_feedforward=32, dropout=0.0,
                                           batch_first=True, activation="gelu")
        self.encoder = nn.TransformerEncoder(layer, 2)
        self.head = nn.Linear(16, 3)

    def forward(self, x):
        return self.head(self.encoder(x)[:, 0])


class Recurrent(nn.Module):
    """Two layers of RNN (tanh), LSTM or GRU; the classifier reads the last step (y[:, -1])."""

    def __init__(self, cell, bidirectional):
        super().__init__()
        self.rnn = cell(6, 8, num_layers=2, batch_first=True, bidirectional=bidirectional)
        self.head = nn.Linear(8 * (2 if bidirectional else 1), 3)

    def forward(self, x):
        y, _ = self.rnn(x)
        return self.head(y[:, -1])


def vit_tiny():
    from torchvision.models.vision_transformer import VisionTransformer
    model = VisionTransformer(image_size=16, patch_size=8, num_layers=2, num_heads=2,
                              hidden_dim=8, mlp_dim=16, num_classes=4)
    with torch.no_grad():  # torchvision zero-initializes the head: the output would be constant
        model.heads.head.weight.normal_(0, 0.5)
    return model


MODELS = {
    "gelu-mlp": (lambda: GeluMlp("none"), (3, 12)),
    "gelu-tanh-mlp": (lambda: GeluMlp("tanh"), (3, 12)),
    "transformer": (Encoder, (2, 5, 16)),
    "lstm": (lambda: Recurrent(nn.LSTM, True), (2, 7, 6)),
    "gru": (lambda: Recurrent(nn.GRU, False), (2, 7, 6)),
    "rnn": (lambda: Recurrent(nn.RNN, True), (2, 7, 6)),
    "vit-tiny": (vit_tiny, (1, 3, 16, 16)),
}


def export(name):
    make, shape = MODELS[name]
    torch.manual_seed(1)
    model = make().eval()
    x = torch.randn(*shape)
    with torch.no_grad():
        y = model(x)
    torch.onnx.export(model, x, os.path.join(HERE, name + ".onnx"), opset_version=13,
                      input_names=["x"], output_names=["y"])
    np.save(os.path.join(HERE, name + ".input.npy"), x.numpy())
    np.save(os.path.join(HERE, name + ".output.npy"), y.numpy())
    print(name, tuple(x.shape), "->", tuple(y.shape))


def one_node(name, node, inits=(), opset=13):
    graph = helper.make_graph([node], name, [helper.make_tensor_value_info("x", TensorProto.FLOAT,
                                                                           None)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                              initializer=list(inits))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    onnx.save(model, os.path.join(HERE, name + ".onnx"))
    print(name)


def ints(name, values):
    return helper.make_tensor(name, TensorProto.INT64, [len(values)], values)


def one_nodes():
    # NumPy's clamping: x[:, -3:] and x[-100:1] along axes given from the end
    big = 2**63 - 1
    one_node("slice-clamp", helper.make_node("Slice", ["x", "s", "e", "a"], ["y"], "the_slice"),
             [ints("s", [-3, -100]), ints("e", [big, 1]), ints("a", [-1, -2])])


def refusals():
    # an index past the axis: an error naming the node at the call, never a read out of bounds
    one_node("bad-gather-index", helper.make_node("Gather", ["x", "i"], ["y"], "the_gather", axis=1),
             [ints("i", [0, 7])])
    one_node("bad-slice-step", helper.make_node("Slice", ["x", "s", "e", "a", "st"], ["y"],
                                            "the_slice"),
             [ints("s", [0]), ints("e", [4]), ints("a", [1]), ints("st", [2])])
    w = helper.make_tensor("w", TensorProto.FLOAT, [1, 8, 3], np.zeros(24, np.float32))
    r = helper.make_tensor("r", TensorProto.FLOAT, [1, 8, 2], np.zeros(16, np.float32))
    one_node("bad-lstm-relu", helper.make_node("LSTM", ["x", "w", "r"], ["y"], "the_lstm",
                                           hidden_size=2, activations=["Relu", "Tanh", "Tanh"]),
             [w, r])
    one_node("equal-floats", helper.make_node("Equal", ["x", "x"], ["y"], "the_equal"))


def main():
    for name in MODELS:
        export(name)
    one_nodes()
    refusals()


if __name__ == "__main__":
    main()
