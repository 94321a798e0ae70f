"""Reads a tessera plan independently of tessera: the metadata bytes from the file header
(docs/plan-format.md), decoded by `protoc --decode` against runtime/schema/plan.proto, parsed
from protobuf text format into dicts whose values are lists (every field may repeat)."""
import struct
import subprocess

def _value(text):
    if text.startswith('"'):
        return bytes(text[1:-1], "latin-1").decode("unicode_escape")
    if text in ("true", "false"):
        return text == "true"
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return text  # enum name

def _parse(lines):
    root, stack = {}, []
    cur = root
    for line in lines:
        line = line.strip()
        if not line:
            continue
        if line == "}":
            cur = stack.pop()
        elif line.endswith("{"):
            child = {}
            cur.setdefault(line[:-1].strip(), []).append(child)
            stack.append(cur)
            cur = child
        else:
            key, _, val = line.partition(": ")
            cur.setdefault(key, []).append(_value(val))
    return root

def load(path, schema_dir):
    data = open(path, "rb").read()
    meta_off, meta_size = struct.unpack("<QQ", data[16:32])
    text = subprocess.run(["protoc", "--decode=tessera.plan.Plan", "-I", schema_dir, "plan.proto"],
                          input=data[meta_off:meta_off + meta_size], capture_output=True,
                          check=True).stdout.decode()
    return _parse(text.splitlines())

def get(msg, key, default=None):
    v = msg.get(key)
    return v[0] if v else default
