"""Reference data for the sequence blocks (tests/test_sequence.c): PyTorch 1.13.1's modules
with random weights, their state dicts, an input and PyTorch's output:

    /usr/bin/python3 tests/data/sequence/gen_blocks.py

Writes tests/data/sequence/NAME/{weights.safetensors,input.npy,output.npy}. The tests only read
the files; PyTorch is never needed to build or test hybrid."""
import os
import sys

import numpy as np
import torch
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tools"))
from make_extra import save_safetensors  # noqa: E402


class FirstOutput(nn.Module):
    """An RNN's every-step output (its first result), as hybrid's blocks return it."""

    def __init__(self, rnn):
        super().__init__()
        self.rnn = rnn

    def forward(self, x):
        return self.rnn(x)[0]


def encoder(gelu, norm_first):
    layer = nn.TransformerEncoderLayer(16, 4, dim_feedforward=32, dropout=0.0, batch_first=True,
                                       activation="gelu" if gelu else "relu",
                                       norm_first=norm_first)
    return nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)


CASES = {
    "gelu": (lambda: nn.GELU(), (3, 9)),
    "gelu-tanh": (lambda: nn.GELU(approximate="tanh"), (3, 9)),
    "layer-norm": (lambda: nn.LayerNorm(9), (2, 3, 9)),
    "attention": (lambda: nn.MultiheadAttention(16, 4, batch_first=True), (2, 5, 16)),
    "encoder": (lambda: encoder(False, False), (2, 5, 16)),
    "encoder-gelu-norm-first": (lambda: encoder(True, True), (2, 5, 16)),
    "lstm": (lambda: FirstOutput(nn.LSTM(6, 8, 2, batch_first=True, bidirectional=True)),
             (2, 7, 6)),
    "gru": (lambda: FirstOutput(nn.GRU(6, 8, 2, batch_first=True)), (2, 7, 6)),
    "embedding": (lambda: nn.Embedding(11, 5), (2, 6)),  # int64 ids in [-11, 11)
}


def main():
    torch.manual_seed(3)
    for name, (make, shape) in CASES.items():
        model = make().eval()
        with torch.no_grad():  # LayerNorm's and attention's biases start at 0, weights at 1
            for p in model.parameters():
                p.add_(torch.randn_like(p) * 0.3)
        x = torch.randint(0, 11, shape) if name == "embedding" else torch.randn(*shape)
        with torch.no_grad():
            y = model(x, x, x, need_weights=False)[0] if name == "attention" else model(x)
        state = model.state_dict()
        if isinstance(model, FirstOutput):  # hybrid's LSTM is the RNN itself
            state = {k[len("rnn."):]: v for k, v in state.items()}
        out = os.path.join(HERE, name)
        os.makedirs(out, exist_ok=True)
        save_safetensors(os.path.join(out, "weights.safetensors"), state)
        np.save(os.path.join(out, "input.npy"), x.numpy())
        np.save(os.path.join(out, "output.npy"), y.numpy())
        print(name, tuple(x.shape), "->", tuple(y.shape), sorted(state)[:3])

    masked()
    examples()


def masked():
    """attention-masked and encoder-masked: the blocks with a key padding mask (the second
    sequence's last two tokens) and a causal attention mask, both bool, written as
    key_padding.npy and attn.npy beside the input."""
    torch.manual_seed(4)
    pad = torch.tensor([[False] * 5, [False, False, False, True, True]])
    causal = torch.triu(torch.ones(5, 5, dtype=torch.bool), diagonal=1)
    for name, make in (("attention-masked", lambda: nn.MultiheadAttention(16, 4, batch_first=True)),
                       ("encoder-masked", lambda: encoder(False, False))):
        model = make().eval()
        with torch.no_grad():
            for p in model.parameters():
                p.add_(torch.randn_like(p) * 0.3)
        x = torch.randn(2, 5, 16)
        with torch.no_grad():
            if name == "attention-masked":
                y = model(x, x, x, key_padding_mask=pad, attn_mask=causal, need_weights=False)[0]
            else:
                y = model(x, mask=causal, src_key_padding_mask=pad)
        out = os.path.join(HERE, name)
        os.makedirs(out, exist_ok=True)
        save_safetensors(os.path.join(out, "weights.safetensors"), model.state_dict())
        np.save(os.path.join(out, "input.npy"), x.numpy())
        np.save(os.path.join(out, "key_padding.npy"), pad.numpy())
        np.save(os.path.join(out, "attn.npy"), causal.numpy())
        np.save(os.path.join(out, "output.npy"), y.numpy())
        print(name, tuple(x.shape), "->", tuple(y.shape))



class Classifier(nn.Module):
    """examples/sequence_models.c's transformer-classifier in PyTorch, by the same names."""

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


class LanguageModel(nn.Module):
    """examples/sequence_models.c's lstm-lm in PyTorch, by the same names."""

    def __init__(self):
        super().__init__()
        self.embedding = nn.Embedding(100, 32)
        self.rnn = nn.LSTM(32, 64, batch_first=True)
        self.decoder = nn.Linear(64, 100)

    def forward(self, ids):
        return self.decoder(self.rnn(self.embedding(ids))[0])


def examples():
    """transformer-classifier and lstm-lm: ids [4, 16] in [1, 100), rows 1 and 3 ending in 4
    and 7 padding tokens (0)."""
    torch.manual_seed(5)
    ids = torch.randint(1, 100, (4, 16))
    ids[1, 12:] = 0
    ids[3, 9:] = 0
    for name, model in (("transformer-classifier", Classifier()), ("lstm-lm", LanguageModel())):
        model.eval()
        with torch.no_grad():
            y = model(ids)
        out = os.path.join(HERE, name)
        os.makedirs(out, exist_ok=True)
        save_safetensors(os.path.join(out, "weights.safetensors"), model.state_dict())
        np.save(os.path.join(out, "input.npy"), ids.numpy())
        np.save(os.path.join(out, "output.npy"), y.numpy())
        print(name, tuple(ids.shape), "->", tuple(y.shape))


if __name__ == "__main__":
    main()
