#!/usr/bin/python3
"""Writes TorchScript archives with PyTorch 1.13 (Debian bookworm's python3-torch 1.13.1) plus an
input and PyTorch's output for each, as onnx.TensorProto files written by hand (no onnx package
needed). The archives are checked in: CI does not install torch; this script documents how they
were made. Run: /usr/bin/python3 make_fixtures.py  (from this directory)."""
import os
import struct

import torch
import torch.nn as nn
import torch.nn.functional as F

DTYPES = {torch.float32: 1, torch.int64: 7}


def varint(n):
    out = b""
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def tensor_proto(name, t):
    t = t.contiguous()
    msg = b""
    for d in t.shape:
        msg += b"\x08" + varint(d)  # dims = 1 (varint)
    msg += b"\x10" + varint(DTYPES[t.dtype])  # data_type = 2
    nb = name.encode()
    msg += b"\x42" + varint(len(nb)) + nb  # name = 8
    raw = t.numpy().tobytes()
    msg += b"\x4a" + varint(len(raw)) + raw  # raw_data = 9
    return msg


class Block(nn.Module):
    """Embedding, pre-LN attention with a causal mask, GELU MLP, tied-free head."""

    def __init__(self, vocab=50, d=16, heads=2):
        super().__init__()
        self.emb = nn.Embedding(vocab, d)
        self.pos = nn.Parameter(torch.randn(8, d) * 0.1)
        self.ln1 = nn.LayerNorm(d)
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)
        self.ln2 = nn.LayerNorm(d)
        self.fc = nn.Linear(d, 4 * d)
        self.out = nn.Linear(4 * d, d)
        self.head = nn.Linear(d, vocab, bias=False)
        self.heads = heads
        self.drop = nn.Dropout(0.1)

    def forward(self, ids):
        b, s = ids.shape
        x = self.emb(ids) + self.pos[:s]
        h = self.ln1(x)
        q, k, v = self.qkv(h).split(x.shape[-1], dim=-1)
        q = q.view(b, s, self.heads, -1).transpose(1, 2)
        k = k.view(b, s, self.heads, -1).transpose(1, 2)
        v = v.view(b, s, self.heads, -1).transpose(1, 2)
        att = torch.matmul(q, k.transpose(-2, -1)) / (q.shape[-1] ** 0.5)
        mask = torch.tril(torch.ones(s, s)).view(1, 1, s, s)
        att = att.masked_fill(mask == 0, float("-inf"))
        att = self.drop(F.softmax(att, dim=-1))
        y = torch.matmul(att, v).transpose(1, 2).contiguous().view(b, s, -1)
        x = x + self.proj(y)
        x = x + self.out(F.gelu(self.fc(self.ln2(x))))
        return self.head(x)


class ConvNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(8)
        self.conv2 = nn.Conv2d(8, 8, 3, stride=2, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(8)
        self.fc = nn.Linear(8, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 2)
        x = torch.relu(self.bn2(self.conv2(x))) + x[:, :, ::2, ::2]
        x = F.adaptive_avg_pool2d(x, 1).flatten(1)
        return torch.tanh(self.fc(x))


def write(name, model, example):
    torch.manual_seed(0)
    model.eval()
    for m in model.modules():  # non-trivial running statistics
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 1.5)
    with torch.no_grad():
        traced = torch.jit.trace(model, (example,))
        out = model(example)
    torch.jit.save(traced, name + ".pt")
    os.makedirs(name, exist_ok=True)
    with open(os.path.join(name, "input_0.pb"), "wb") as f:
        f.write(tensor_proto("input_0", example))
    with open(os.path.join(name, "output_0.pb"), "wb") as f:
        f.write(tensor_proto("output_0", out))


if __name__ == "__main__":
    print("torch", torch.__version__)
    torch.manual_seed(0)
    write("block", Block(), torch.randint(0, 50, (2, 8)))
    torch.manual_seed(1)
    write("convnet", ConvNet(), torch.randn(2, 3, 16, 16))
