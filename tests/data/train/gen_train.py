# Reference for test_train.c, from PyTorch 1.13.1 (/usr/bin/python3 gen_train.py):
# the seed MLP (weights from ../mlp) on its input with labels i % 10, three steps of
# cross-entropy + torch.optim.SGD(momentum, weight decay) and of mse + torch.optim.Adam
# (weight decay); the loss of each step and the weights after the last.
import json, struct
import numpy as np, torch

def load_file(path):  # float32 safetensors, without the safetensors package
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        head, body = json.loads(f.read(n)), f.read()
    return {k: torch.from_numpy(np.frombuffer(body[v["data_offsets"][0]:v["data_offsets"][1]],
                                              dtype=np.float32).reshape(v["shape"]).copy())
            for k, v in head.items() if k != "__metadata__"}

def save_file(tensors, path):
    head, blobs, at = {}, [], 0
    for k, v in sorted(tensors.items()):
        b = v.numpy().astype(np.float32).tobytes()
        head[k] = {"dtype": "F32", "shape": list(v.shape), "data_offsets": [at, at + len(b)]}
        blobs.append(b)
        at += len(b)
    h = json.dumps(head).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))

def mlp():
    net = torch.nn.Sequential(torch.nn.Linear(20, 256), torch.nn.ReLU(), torch.nn.Linear(256, 10))
    net.load_state_dict(load_file("../mlp/weights.safetensors"))
    return net

x = torch.from_numpy(np.load("../mlp/input.npy"))
labels = torch.arange(x.shape[0]) % 10
target = torch.linspace(-1, 1, x.shape[0] * 10).reshape(x.shape[0], 10)
runs = {
    "sgd": (lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, weight_decay=0.01),
            lambda y: torch.nn.functional.cross_entropy(y, labels)),
    "adam": (lambda p: torch.optim.Adam(p, lr=0.01, weight_decay=0.01),
             lambda y: torch.nn.functional.mse_loss(y, target)),
}
for name, (make, lossf) in runs.items():
    net = mlp()
    opt = make(net.parameters())
    losses = []
    for _ in range(3):
        opt.zero_grad()
        loss = lossf(net(x))
        loss.backward()
        opt.step()
        losses.append(loss.item())
    np.save(f"{name}_losses.npy", np.array(losses, dtype=np.float32))
    save_file({k: v.detach().contiguous() for k, v in net.state_dict().items()},
              f"{name}_weights.safetensors")
