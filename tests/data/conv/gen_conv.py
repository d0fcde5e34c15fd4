"""Reference data for the conv suite (tests/test_conv.c), from PyTorch 1.13.1 on CPU:
    /usr/bin/python3 tests/data/conv/gen_conv.py tests/data/conv/cases.safetensors

For every case: the inputs, a random G of the output's shape, the output, and the gradients of
sum(output * G) for every input. Each case's settings are a float tensor NAME.params:
  conv:       [0, stride_h, stride_w, pad_h, pad_w, dil_h, dil_w, groups, has_bias]
  max pool:   [1, kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w, ceil_mode, 0]
  avg pool:   [2, kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w, ceil_mode,
               exclude padding (count_include_pad=False)]
  conv transposed: [4, stride_h, stride_w, pad_h, pad_w, dil_h, dil_w, groups, has_bias,
              output_pad_h, output_pad_w]
  batch norm: [3, training, momentum, eps]  (inputs x, weight, bias, running_mean, running_var;
              outputs include the running statistics after the call)
"""
import json
import struct
import sys

import numpy as np
import torch
import torch.nn.functional as F

torch.manual_seed(0)
out = {}


def put(name, t):
    out[name] = np.ascontiguousarray(t.detach().numpy().astype(np.float32))


def conv(name, x_shape, w_shape, stride, pad, dil, groups, bias):
    x = torch.randn(*x_shape, requires_grad=True)
    w = torch.randn(*w_shape, requires_grad=True)
    b = torch.randn(w_shape[0], requires_grad=True) if bias else None
    y = F.conv2d(x, w, b, stride, pad, dil, groups)
    g = torch.randn(*y.shape)
    (y * g).sum().backward()
    put(name + ".params", torch.tensor([0, *stride, *pad, *dil, groups, int(bias)], dtype=torch.float32))
    for k, v in [("x", x), ("w", w), ("y", y), ("g", g), ("dx", x.grad), ("dw", w.grad)]:
        put(f"{name}.{k}", v)
    if bias:
        put(name + ".b", b)
        put(name + ".db", b.grad)


def conv_t(name, x_shape, w_shape, stride, pad, dil, groups, bias, out_pad):
    x = torch.randn(*x_shape, requires_grad=True)
    w = torch.randn(*w_shape, requires_grad=True)
    b = torch.randn(w_shape[1] * groups, requires_grad=True) if bias else None
    y = F.conv_transpose2d(x, w, b, stride, pad, out_pad, groups, dil)
    g = torch.randn(*y.shape)
    (y * g).sum().backward()
    put(name + ".params", torch.tensor([4, *stride, *pad, *dil, groups, int(bias), *out_pad],
                                       dtype=torch.float32))
    for k, v in [("x", x), ("w", w), ("y", y), ("g", g), ("dx", x.grad), ("dw", w.grad)]:
        put(f"{name}.{k}", v)
    if bias:
        put(name + ".b", b)
        put(name + ".db", b.grad)


def pool(name, kind, x_shape, kernel, stride, pad, ceil=False, exclude=False):
    x = torch.randn(*x_shape, requires_grad=True)
    if kind == 1:
        y = F.max_pool2d(x, kernel, stride, pad, ceil_mode=ceil)
    else:
        y = F.avg_pool2d(x, kernel, stride, pad, ceil_mode=ceil, count_include_pad=not exclude)
    g = torch.randn(*y.shape)
    (y * g).sum().backward()
    put(name + ".params", torch.tensor([kind, *kernel, *stride, *pad, int(ceil), int(exclude)],
                                       dtype=torch.float32))
    for k, v in [("x", x), ("y", y), ("g", g), ("dx", x.grad)]:
        put(f"{name}.{k}", v)


def batch_norm(name, x_shape, training, momentum=0.1, eps=1e-5):
    c = x_shape[1]
    x = torch.randn(*x_shape, requires_grad=True)
    w = torch.randn(c, requires_grad=True)
    b = torch.randn(c, requires_grad=True)
    rm = torch.randn(c)
    rv = torch.rand(c) + 0.5
    put(name + ".running_mean", rm)
    put(name + ".running_var", rv)
    rm2, rv2 = rm.clone(), rv.clone()
    y = F.batch_norm(x, rm2, rv2, w, b, training, momentum, eps)
    g = torch.randn(*y.shape)
    (y * g).sum().backward()
    put(name + ".params", torch.tensor([3, int(training), momentum, eps], dtype=torch.float32))
    for k, v in [("x", x), ("w", w), ("b", b), ("y", y), ("g", g), ("dx", x.grad),
                 ("dw", w.grad), ("db", b.grad), ("running_mean_after", rm2),
                 ("running_var_after", rv2)]:
        put(f"{name}.{k}", v)


conv("conv_3x3", (2, 3, 9, 8), (4, 3, 3, 3), (1, 1), (1, 1), (1, 1), 1, True)
conv("conv_groups_dilated", (1, 4, 10, 7), (6, 2, 3, 2), (2, 1), (1, 0), (1, 2), 2, False)
conv("conv_depthwise", (2, 6, 7, 7), (6, 1, 3, 3), (2, 2), (1, 1), (1, 1), 6, True)
conv("conv_depthwise_x2", (2, 4, 5, 5), (8, 1, 3, 3), (1, 1), (2, 2), (2, 2), 4, True)
conv("conv_1x1", (2, 5, 6, 6), (7, 5, 1, 1), (1, 1), (0, 0), (1, 1), 1, True)
conv("conv_1x1_stride2", (1, 4, 9, 9), (8, 4, 1, 1), (2, 2), (0, 0), (1, 1), 1, False)
conv("conv_stem_7x7", (1, 3, 16, 16), (5, 3, 7, 7), (2, 2), (3, 3), (1, 1), 1, False)
conv("conv_wide_pad", (1, 2, 4, 5), (3, 2, 2, 3), (3, 2), (2, 1), (1, 1), 1, True)
# 3x3, stride 1, at least 400 output tiles of 2x2: the Winograd path (odd sizes: clipped tiles)
conv("conv_winograd", (1, 16, 56, 56), (16, 16, 3, 3), (1, 1), (1, 1), (1, 1), 1, True)
conv("conv_winograd_odd", (2, 8, 41, 39), (5, 8, 3, 3), (1, 1), (1, 1), (1, 1), 1, False)
pool("max_3x3_s2_p1", 1, (2, 3, 9, 8), (3, 3), (2, 2), (1, 1))
pool("max_2x2", 1, (1, 2, 8, 8), (2, 2), (2, 2), (0, 0))
pool("avg_3x3_s2_p1", 2, (2, 3, 9, 8), (3, 3), (2, 2), (1, 1))
pool("avg_3x2_s1x2_p1x0", 2, (1, 2, 6, 7), (3, 2), (1, 2), (1, 0))
batch_norm("bn_train", (4, 3, 5, 6), True)
batch_norm("bn_eval", (2, 3, 4, 4), False)
batch_norm("bn_train_momentum", (3, 2, 3, 3), True, momentum=0.3, eps=1e-3)
# ceil mode: a last, partial window, and one dropped for starting in the right padding
pool("max_ceil", 1, (1, 2, 8, 10), (3, 3), (2, 2), (1, 0), ceil=True)
pool("max_ceil_dropped", 1, (1, 1, 5, 5), (2, 2), (2, 2), (1, 1), ceil=True)
pool("avg_ceil", 2, (2, 3, 8, 10), (3, 3), (2, 2), (1, 0), ceil=True)
pool("avg_ceil_dropped", 2, (1, 1, 5, 5), (2, 2), (2, 2), (1, 1), ceil=True)
pool("avg_exclude_pad", 2, (1, 2, 7, 6), (3, 3), (2, 2), (1, 1), exclude=True)
pool("avg_ceil_exclude_pad", 2, (1, 2, 8, 10), (3, 2), (2, 2), (1, 1), ceil=True, exclude=True)
# transposed: upsampling by 2 (a U-Net's), with output padding, groups and dilation
conv_t("convt_up2", (2, 4, 5, 6), (4, 3, 2, 2), (2, 2), (0, 0), (1, 1), 1, True, (0, 0))
conv_t("convt_3x3_s2_p1_op1", (1, 3, 4, 5), (3, 5, 3, 3), (2, 2), (1, 1), (1, 1), 1, True, (1, 1))
conv_t("convt_groups_dilated", (2, 4, 5, 4), (4, 2, 3, 2), (1, 2), (1, 0), (2, 1), 2, False, (0, 1))
# output padding at or past the stride (allowed below the dilation), and a ceil-mode window
# longer than the padded input
conv_t("convt_outpad_dilation", (1, 2, 4, 3), (2, 3, 3, 2), (1, 2), (2, 0), (2, 3), 1, True, (1, 2))
pool("max_ceil_long_kernel", 1, (1, 2, 1, 3), (2, 3), (2, 2), (0, 1), ceil=True)
pool("avg_ceil_long_kernel", 2, (1, 2, 1, 3), (2, 3), (2, 2), (0, 1), ceil=True, exclude=True)

header, offset, blobs = {}, 0, []
for name in sorted(out):
    a = out[name]
    data = a.tobytes()
    header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [offset, offset + len(data)]}
    offset += len(data)
    blobs.append(data)
text = json.dumps(header, separators=(",", ":")).encode()
text += b" " * ((8 - len(text) % 8) % 8)
with open(sys.argv[1], "wb") as f:
    f.write(struct.pack("<Q", len(text)))
    f.write(text)
    for d in blobs:
        f.write(d)
print(f"{len(out)} tensors -> {sys.argv[1]}")
