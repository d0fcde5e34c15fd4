"""ONNX files with int64 and bool inputs and outputs for the onnx suite (tests/test_onnx.c),
exported by PyTorch 1.13.1 with its random weights (and one made with Debian's python3-onnx):

    /usr/bin/python3 tests/data/onnx/gen_typed.py

For each model NAME it writes NAME.onnx, NAME.INPUT.npy per graph input (in the file's order)
and NAME.output.npy (PyTorch's output). Only the test data needs these packages."""
import os

import numpy as np
import onnx
import torch
import torch.nn as nn
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))


class EmbedMask(nn.Module):
    """Token ids through an embedding, padding masked out, mean over the unmasked tokens."""

    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(10, 6)
        self.head = nn.Linear(6, 3)

    def forward(self, ids, mask):
        e = self.emb(ids)
        e = torch.where(mask.unsqueeze(-1), e, torch.zeros_like(e))
        n = mask.sum(dim=1, keepdim=True).clamp(min=1).to(e.dtype)
        return self.head(e.sum(dim=1) / n)


class EncoderIds(nn.Module):
    """A transformer encoder over token ids with a key padding mask: what a text classifier is."""

    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(12, 8)
        layer = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.0,
                                           batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, 1, enable_nested_tensor=False)
        self.head = nn.Linear(8, 2)

    def forward(self, ids, pad):
        return self.head(self.encoder(self.emb(ids), src_key_padding_mask=pad)[:, 0])


class ArgMax(nn.Module):
    def forward(self, x):
        return torch.argmax(x * 2.0, dim=1)


class MaxAndIndex(nn.Module):
    """Two graph outputs: each row's largest value and where it is."""

    def forward(self, x):
        return torch.amax(x, dim=1), torch.argmax(x, dim=1)


class Branchy(nn.Module):
    """Data-dependent control flow, scripted so that it exports as If nodes: one on a value the
    call computes (a guard in hybrid), one on the batch size (picked on the host)."""

    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(4, 4)

    def forward(self, x):
        h = self.lin(x)
        if bool(h.mean() > 0):
            y = torch.relu(h) * 2.0
        else:
            y = torch.tanh(h) - 1.0
        if x.shape[0] > 2:
            y = y + x.sum()
        return y


def branchy():
    """branchy.onnx, and for each of its branches an input that takes it and PyTorch's output:
    branchy.then.npy / branchy.then-output.npy, branchy.else.npy / branchy.else-output.npy, and
    a batch of 3 (branchy.wide.npy) for the If on the shape."""
    torch.manual_seed(4)
    model = Branchy().eval()
    scripted = torch.jit.script(model)
    x = torch.randn(2, 4)
    torch.onnx.export(scripted, (x,), os.path.join(HERE, "branchy.onnx"), input_names=["x"],
                      output_names=["y"], opset_version=13,
                      dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}})
    found = {}
    gen = torch.Generator().manual_seed(5)
    while len(found) < 2:
        x = torch.randn(2, 4, generator=gen)
        with torch.no_grad():
            found.setdefault("then" if model.lin(x).mean() > 0 else "else", x)
    found["wide"] = torch.randn(3, 4, generator=gen)
    for name, x in found.items():
        with torch.no_grad():
            y = model(x)
        np.save(os.path.join(HERE, "branchy.%s.npy" % name), x.numpy())
        np.save(os.path.join(HERE, "branchy.%s-output.npy" % name), y.numpy())


class StatefulLSTM(nn.Module):
    """An LSTM whose state goes in and out: what a streaming model exports."""

    def __init__(self):
        super().__init__()
        self.rnn = nn.LSTM(3, 5, batch_first=True)
        self.head = nn.Linear(5, 2)

    def forward(self, x, h0, c0):
        y, (h, c) = self.rnn(x, (h0, c0))
        return self.head(y), h, c


def lstm_state():
    """lstm-state.onnx (inputs x, h0, c0; outputs y, hn, cn) and a sequence in two chunks,
    lstm-state.x1.npy and .x2.npy, zero initial states (.h0.npy, .c0.npy), and PyTorch's y for
    each chunk with the state carried from the first to the second (.y1.npy, .y2.npy)."""
    torch.manual_seed(6)
    model = StatefulLSTM().eval()
    x = torch.randn(2, 7, 3)
    h0, c0 = torch.zeros(1, 2, 5), torch.zeros(1, 2, 5)
    torch.onnx.export(model, (x[:, :4], h0, c0), os.path.join(HERE, "lstm-state.onnx"),
                      input_names=["x", "h0", "c0"], output_names=["y", "hn", "cn"],
                      opset_version=13, dynamic_axes={"x": {1: "steps"}, "y": {1: "steps"}})
    with torch.no_grad():
        y1, h, c = model(x[:, :4], h0, c0)
        y2, _, _ = model(x[:, 4:], h, c)
    for name, t in (("x1", x[:, :4]), ("x2", x[:, 4:]), ("h0", h0), ("c0", c0), ("y1", y1),
                    ("y2", y2)):
        np.save(os.path.join(HERE, "lstm-state.%s.npy" % name), t.contiguous().numpy())


class Halving(nn.Module):
    """FixedHiddenMLP's loop, scripted: a Loop whose condition the body computes, and a for
    loop over the batch size whose body adds its iteration number."""

    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(4, 4)

    def forward(self, x):
        x = self.lin(x)
        while bool(x.abs().sum() > 1.0):
            x = x / 2.0
        for i in range(x.shape[0]):
            x = x + float(i)
        return x


def halving():
    """halving.onnx and inputs at four scales (.s0.npy ... .s3.npy: 1e-3, 1, 30 and 1000 times a
    normal draw), whose loops run different numbers of rounds, with PyTorch's outputs
    (.s0-output.npy, ...)."""
    torch.manual_seed(7)
    model = Halving().eval()
    torch.onnx.export(torch.jit.script(model), (torch.randn(2, 4),),
                      os.path.join(HERE, "halving.onnx"), input_names=["x"], output_names=["y"],
                      opset_version=13)
    x = torch.randn(2, 4, generator=torch.Generator().manual_seed(8))
    for k, scale in enumerate((1e-3, 1.0, 30.0, 1000.0)):
        with torch.no_grad():
            y = model(x * scale)
        np.save(os.path.join(HERE, "halving.s%d.npy" % k), (x * scale).numpy())
        np.save(os.path.join(HERE, "halving.s%d-output.npy" % k), y.numpy())


def cumsum():
    """cumsum.onnx: CumSum of a float32 x along axis 1, of x along axis 0 exclusive and
    reversed, and of an int64 mask along axis 1 (position ids); NumPy's results as
    cumsum.{y,yr,pos}.npy for inputs cumsum.{x,mask}.npy."""
    axis0 = helper.make_tensor("axis0", TensorProto.INT64, [], [0])
    axis1 = helper.make_tensor("axis1", TensorProto.INT64, [], [1])
    nodes = [helper.make_node("CumSum", ["x", "axis1"], ["y"]),
             helper.make_node("CumSum", ["x", "axis0"], ["yr"], exclusive=1, reverse=1),
             helper.make_node("CumSum", ["mask", "axis1"], ["pos"])]
    g = helper.make_graph(nodes, "cumsum",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3, 4]),
                           helper.make_tensor_value_info("mask", TensorProto.INT64, [2, 5])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [3, 4]),
                           helper.make_tensor_value_info("yr", TensorProto.FLOAT, [3, 4]),
                           helper.make_tensor_value_info("pos", TensorProto.INT64, [2, 5])],
                          [axis0, axis1])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 14)]),
              os.path.join(HERE, "cumsum.onnx"))
    x = np.random.RandomState(9).randn(3, 4).astype(np.float32)
    mask = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], np.int64)
    rev = np.flip(np.cumsum(np.flip(x, 0), 0), 0) - x
    for name, v in (("x", x), ("mask", mask), ("y", np.cumsum(x, 1)), ("yr", rev),
                    ("pos", np.cumsum(mask, 1))):
        np.save(os.path.join(HERE, "cumsum.%s.npy" % name), v.astype(v.dtype))


def matmul_vectors():
    """matmul-vectors.onnx: NumPy's matmul with 1-D operands, y = x @ v (x [2, 3, 4], v [4]:
    [2, 3]), z = u @ y (u [2]: [3]) and d = v @ v (a scalar); NumPy's results."""
    rs = np.random.RandomState(10)
    v, u = rs.randn(4).astype(np.float32), rs.randn(2).astype(np.float32)
    nodes = [helper.make_node("MatMul", ["x", "v"], ["y"]), helper.make_node("MatMul", ["u", "y"], ["z"]),
             helper.make_node("MatMul", ["v", "v"], ["d"])]
    g = helper.make_graph(nodes, "matmul_vectors",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3, 4])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3]),
                           helper.make_tensor_value_info("z", TensorProto.FLOAT, [3]),
                           helper.make_tensor_value_info("d", TensorProto.FLOAT, [])],
                          [helper.make_tensor("v", TensorProto.FLOAT, [4], v),
                           helper.make_tensor("u", TensorProto.FLOAT, [2], u)])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]),
              os.path.join(HERE, "matmul-vectors.onnx"))
    x = rs.randn(2, 3, 4).astype(np.float32)
    y = x @ v
    for name, t in (("x", x), ("y", y), ("z", u @ y), ("d", np.array(v @ v, np.float32))):
        np.save(os.path.join(HERE, "matmul-vectors.%s.npy" % name), t)


def einsum():
    """einsum.onnx: attention's forms over x [2, 3, 4, 5] (b h q d) and k [2, 3, 6, 5] (b h k d):
    s = bhqd,bhkd->bhqk, o = bhqk,bhkd->bhqd (of s), r = bhqd->hd (sums and an order), and the
    implicit output of "bhqd,bhkd" (kq); NumPy's results."""
    eqs = {"s": ("bhqd,bhkd->bhqk", ["x", "k"]), "o": ("bhqk,bhkd->bhqd", ["s", "k"]),
           "r": ("bhqd->hd", ["x"]), "imp": ("bhqd,bhkd", ["x", "k"])}
    nodes = [helper.make_node("Einsum", ins, [name], equation=eq) for name, (eq, ins) in eqs.items()]
    rs = np.random.RandomState(12)
    x, k = rs.randn(2, 3, 4, 5).astype(np.float32), rs.randn(2, 3, 6, 5).astype(np.float32)
    vals = {"x": x, "k": k}
    for name, (eq, ins) in eqs.items():
        vals[name] = np.einsum(eq, *[vals[i] for i in ins]).astype(np.float32)
    g = helper.make_graph(nodes, "einsum",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, x.shape),
                           helper.make_tensor_value_info("k", TensorProto.FLOAT, k.shape)],
                          [helper.make_tensor_value_info(n, TensorProto.FLOAT, vals[n].shape)
                           for n in eqs])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]),
              os.path.join(HERE, "einsum.onnx"))
    for name, v in vals.items():
        np.save(os.path.join(HERE, "einsum.%s.npy" % name), v)


def export(name, model, inputs, names, outputs=("y",)):
    """Writes NAME.output.npy for the first output, NAME.OUTPUT.npy for the others."""
    torch.manual_seed(0)
    model.eval()
    with torch.no_grad():
        want = model(*inputs)
    torch.onnx.export(model, tuple(inputs), os.path.join(HERE, name + ".onnx"),
                      input_names=names, output_names=list(outputs), opset_version=13)
    for n, t in zip(names, inputs):
        np.save(os.path.join(HERE, "%s.%s.npy" % (name, n)), t.numpy())
    want = want if isinstance(want, tuple) else (want,)
    for i, (o, w) in enumerate(zip(outputs, want)):
        np.save(os.path.join(HERE, "%s.%s.npy" % (name, "output" if i == 0 else o)), w.numpy())


def shared_constant():
    """One int64 constant read as a tensor by two nodes: (ids + c) + (ids * c)."""
    c = helper.make_tensor("c", TensorProto.INT64, [1], [3])
    nodes = [helper.make_node("Add", ["ids", "c"], ["a"]), helper.make_node("Mul", ["ids", "c"], ["m"]),
             helper.make_node("Add", ["a", "m"], ["y"])]
    g = helper.make_graph(nodes, "shared", [helper.make_tensor_value_info("ids", TensorProto.INT64, [2, 3])],
                          [helper.make_tensor_value_info("y", TensorProto.INT64, [2, 3])], [c])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]),
              os.path.join(HERE, "shared-constant.onnx"))
    ids = np.array([[0, 1, 2], [-4, 5, 7]], np.int64)
    np.save(os.path.join(HERE, "shared-constant.ids.npy"), ids)
    np.save(os.path.join(HERE, "shared-constant.output.npy"), (ids + 3) + ids * 3)


def scan_loop():
    """A Loop as converters write a recurrence (a scan output, the trip count from x's shape):
    h = tanh(x[i]·W + h·U) over x [steps, 2, 3], each round's h stacked, plus the last h. Made
    with onnx.helper (PyTorch's exporter writes the stacking as sequence ops); its reference is
    the same recurrence in PyTorch, at 6 steps."""
    rng = np.random.RandomState(11)
    w = rng.randn(3, 4).astype(np.float32)
    u = (rng.randn(4, 4) * 0.5).astype(np.float32)
    body = helper.make_graph(
        [helper.make_node("Gather", ["x", "i"], ["xi"], axis=0),
         helper.make_node("MatMul", ["xi", "W"], ["xw"]),
         helper.make_node("MatMul", ["h", "U"], ["hu"]),
         helper.make_node("Add", ["xw", "hu"], ["s"]),
         helper.make_node("Tanh", ["s"], ["h_next"]),
         helper.make_node("Identity", ["cond"], ["cond_out"]),
         helper.make_node("Identity", ["h_next"], ["h_scan"])],
        "round",
        [helper.make_tensor_value_info("i", TensorProto.INT64, []),
         helper.make_tensor_value_info("cond", TensorProto.BOOL, []),
         helper.make_tensor_value_info("h", TensorProto.FLOAT, [2, 4])],
        [helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
         helper.make_tensor_value_info("h_next", TensorProto.FLOAT, [2, 4]),
         helper.make_tensor_value_info("h_scan", TensorProto.FLOAT, [2, 4])])
    nodes = [helper.make_node("Shape", ["x"], ["shape"]),
             helper.make_node("Gather", ["shape", "zero"], ["steps"], axis=0),
             helper.make_node("Loop", ["steps", "true", "h0"], ["h_last", "hs"], body=body),
             helper.make_node("Add", ["hs", "h_last"], ["y"])]
    inits = [helper.make_tensor("zero", TensorProto.INT64, [], [0]),
             helper.make_tensor("true", TensorProto.BOOL, [], [True]),
             helper.make_tensor("h0", TensorProto.FLOAT, [2, 4], np.zeros(8, np.float32)),
             numpy_helper.from_array(w, "W"), numpy_helper.from_array(u, "U")]
    g = helper.make_graph(nodes, "scan_loop",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["steps", 2, 3])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["steps", 2, 4])],
                          inits)
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]),
              os.path.join(HERE, "scan-loop.onnx"))
    x = torch.from_numpy(rng.randn(6, 2, 3).astype(np.float32))
    h, hs = torch.zeros(2, 4), []
    for i in range(x.shape[0]):
        h = torch.tanh(x[i] @ torch.from_numpy(w) + h @ torch.from_numpy(u))
        hs.append(h)
    np.save(os.path.join(HERE, "scan-loop.x.npy"), x.numpy())
    np.save(os.path.join(HERE, "scan-loop.output.npy"), (torch.stack(hs) + h).numpy())


def main():
    torch.manual_seed(0)
    ids = torch.tensor([[1, 4, 9, 0, 0], [3, 3, 2, 7, 5]])
    mask = ids != 0
    export("embed-mask", EmbedMask(), [ids, mask], ["ids", "mask"])
    torch.manual_seed(1)
    ids = torch.tensor([[2, 11, 5, 0], [7, 1, 1, 3]])
    export("encoder-ids", EncoderIds(), [ids, ids == 0], ["ids", "pad"])
    torch.manual_seed(2)
    export("argmax", ArgMax(), [torch.randn(4, 7)], ["x"])
    torch.manual_seed(3)
    export("max-and-index", MaxAndIndex(), [torch.randn(3, 5)], ["x"], ("values", "indices"))
    shared_constant()
    branchy()
    lstm_state()
    halving()
    cumsum()
    matmul_vectors()
    einsum()
    scan_loop()


if __name__ == "__main__":
    main()
