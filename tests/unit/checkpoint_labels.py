#!/usr/bin/env python3
"""Writes labels for a tiny model's training step: int64 TensorProto, shape = the reference
output's shape without its last dim, labels[i] = i % C. Usage: checkpoint_labels.py
test_data_set_dir out.pb. Hand-written protobuf wire format (no numpy/onnx needed)."""
import struct
import sys


def varint(b, i):
    v = s = 0
    while True:
        c = b[i]
        i += 1
        v |= (c & 0x7F) << s
        s += 7
        if c < 0x80:
            return v, i


def dims_of(path):
    b, i, dims = open(path, "rb").read(), 0, []
    while i < len(b):
        key, i = varint(b, i)
        field, wire = key >> 3, key & 7
        if wire == 0:
            v, i = varint(b, i)
            if field == 1:
                dims.append(v)
        elif wire == 2:
            n, i = varint(b, i)
            if field == 1:
                j = i
                while j < i + n:
                    v, j = varint(b, j)
                    dims.append(v)
            i += n
        elif wire == 5:
            i += 4
        elif wire == 1:
            i += 8
    return dims


def enc_varint(v):
    out = bytearray()
    while True:
        c = v & 0x7F
        v >>= 7
        out.append(c | (0x80 if v else 0))
        if not v:
            return bytes(out)


def main():
    dims = dims_of(sys.argv[1] + "/output_0.pb")
    shape, classes = dims[:-1], dims[-1]
    n = 1
    for d in shape:
        n *= d
    raw = b"".join(struct.pack("<q", i % classes) for i in range(n))
    msg = b"".join(b"\x08" + enc_varint(d) for d in shape)
    msg += b"\x10" + enc_varint(7)  # INT64
    msg += b"\x42" + enc_varint(6) + b"labels"
    msg += b"\x4a" + enc_varint(len(raw)) + raw
    open(sys.argv[2], "wb").write(msg)


main()
